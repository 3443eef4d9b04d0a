// The physical floor of a sync payment: no parsing, no validation, no signing, no logging.
// Any path is a payment on the subject named by its second segment (so the gateway's own
// `PATCH /items/{item}/make_payment` fits); `/parts/hop`, `/parts/call` and `/parts/commit`
// time one step each. The object keeps its payments in SQLite; a write followed by the
// backend POST makes the runtime's output gate hold the POST until the write has committed,
// and the answer waits for the second commit the same way: the two durable commits the
// contract asks for, with nothing else around them.
import { DurableObject } from "cloudflare:workers";

const LANES = 64;

function lane(subject) {
  let h = 0;
  for (let i = 0; i < subject.length; i++) h = (h * 31 + subject.charCodeAt(i)) >>> 0;
  return `lane-${h % LANES}`;
}

function dispatch(env, requestId, subject) {
  return fetch(env.BACKEND_URL, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ request_id: requestId, subject, submission_count: 1 }),
  });
}

export class Floor extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS payments (id TEXT PRIMARY KEY, state TEXT NOT NULL, result TEXT)",
    );
  }

  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/call") return new Response("ok");
    const id = crypto.randomUUID();
    this.ctx.storage.sql.exec("INSERT INTO payments (id, state) VALUES (?, 'accepted')", id);
    if (url.pathname === "/commit") return new Response("ok");
    const answer = await dispatch(this.env, id, url.searchParams.get("subject") ?? "");
    const result = await answer.text();
    this.ctx.storage.sql.exec(
      "UPDATE payments SET state = 'completed', result = ? WHERE id = ?",
      result,
      id,
    );
    return new Response(result, { headers: { "content-type": "application/json" } });
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/parts/hop") {
      const answer = await dispatch(env, "hop", "hop");
      return new Response(await answer.text());
    }
    const subject = decodeURIComponent(url.pathname.split("/")[2] ?? "");
    const step = { "/parts/call": "/call", "/parts/commit": "/commit" }[url.pathname] ?? "/pay";
    const stub = env.FLOOR.get(env.FLOOR.idFromName(lane(subject)));
    return stub.fetch(`https://floor${step}?subject=${encodeURIComponent(subject)}`, {
      method: "POST",
    });
  },
};
