import { describe, expect, it } from "vitest";
import { ServedSession } from "./served-session.mjs";

/** A backend message as Postgres writes it: its type, a length that counts itself, then its body. */
function message(type: string, body: number[] = []): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out.write(type, 0, "latin1");
  out.writeInt32BE(4 + body.length, 1);
  Buffer.from(body).copy(out, 5);
  return out;
}

const ready = (status: "I" | "T" | "E") => message("Z", [status.charCodeAt(0)]);
const parseComplete = message("1");
const bindComplete = message("2");
const commandComplete = message("C", [...Buffer.from("INSERT 0 1\0")]);
const dataRow = message("D", [0, 1, 0, 0, 0, 3, ...Buffer.from("abc")]);

function sessionAfter(...answers: Buffer[]): ServedSession {
  const session = new ServedSession();
  for (const answer of answers) session.read(answer);
  return session;
}

describe("the served session, read from its answers", () => {
  it("is not idle before any answer", () => {
    expect(new ServedSession().idle).toBe(false);
  });

  it("is idle after a query's answer ends with ReadyForQuery saying idle", () => {
    expect(sessionAfter(Buffer.concat([dataRow, commandComplete, ready("I")])).idle).toBe(true);
  });

  it("is not idle inside a transaction, or in a failed one", () => {
    expect(sessionAfter(Buffer.concat([commandComplete, ready("T")])).idle).toBe(false);
    expect(sessionAfter(Buffer.concat([message("E", [...Buffer.from("SERROR\0\0")]), ready("E")])).idle).toBe(false);
  });

  it("is not idle halfway through an extended-protocol exchange, before its Sync is answered", () => {
    // pglite-socket hands PGlite one message at a time: Parse, Bind and Execute are answered before the Sync.
    const session = sessionAfter(ready("I"), parseComplete);
    expect(session.idle).toBe(false);
    session.read(bindComplete);
    session.read(commandComplete);
    expect(session.idle).toBe(false);
    session.read(ready("I"));
    expect(session.idle).toBe(true);
  });

  it("reads messages cut anywhere between two reads", () => {
    const answer = Buffer.concat([dataRow, commandComplete, ready("I")]);
    for (let cut = 1; cut < answer.length; cut++) {
      const session = new ServedSession();
      session.read(answer.subarray(0, cut));
      // Cut inside the final ReadyForQuery, the session is not known to be idle yet.
      expect(session.idle).toBe(false);
      session.read(answer.subarray(cut));
      expect(session.idle).toBe(true);
    }
  });

  it("is never idle again once the stream cannot be read as messages", () => {
    const session = sessionAfter(ready("I"));
    session.read(Buffer.from([0x5a, 0, 0, 0, 2])); // a length below its own four bytes
    session.read(ready("I"));
    expect(session.idle).toBe(false);
  });
});
