// A stand-in for the ServiceStack Java client's type of this name (net.servicestack:client on
// Maven Central, not reachable from the test machines), so tests/e2e_native_types.rs can compile
// the /types/java reference; it declares only what the reference uses.
package net.servicestack.client;

public interface IReturn<T> {}
