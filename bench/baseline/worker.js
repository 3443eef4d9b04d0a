// The runtime's own cost: a fixed 200, no parsing, no storage, no wasm.
export default {
  fetch() {
    return new Response("ok");
  },
};
