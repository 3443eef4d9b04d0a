// A stand-in for the ServiceStack Java client's type of this name (see IReturn.java).
package net.servicestack.client;

public class ResponseStatus {
    public String errorCode;
    public String message;
}
