// A stand-in for the ServiceStack Java client's type of this name (see IReturn.java).
package net.servicestack.client;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface Route {
    String Path() default "";
    String Verbs() default "";
}
