// Compile-time checks of the typed service API: tsc fails the build if any @ts-expect-error below stops
// being an error (i.e. if the types got looser). At run time it only checks a well-typed round trip.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { EchoResponse } from "../../src/api/gen/ttrpc/testing/echo_pb.js";
import type { ServiceImpl } from "../../src/ttrpc/index.js";
import { type Echo, startPair } from "./ttrpc-echo.js";

export const wrongOutputField: ServiceImpl<typeof Echo.method> = {
  // @ts-expect-error EchoResponse.text is a string
  echo: async (req) => ({ text: req.count }),
};

export const wrongInputUse: ServiceImpl<typeof Echo.method> = {
  // @ts-expect-error EchoRequest.delayMs is a number, not a string
  echo: async (req) => ({ text: req.delayMs.toUpperCase() }),
};

export const serverStreamMustIterate: ServiceImpl<typeof Echo.method> = {
  // @ts-expect-error a server-streaming handler returns an async iterable, not a promise of one message
  serverStream: async (req) => ({ text: req.text }),
};

test("typed client methods take request init shapes and resolve to response messages", async () => {
  const p = await startPair();
  try {
    const res: EchoResponse = await p.echo.echo({ text: "typed" }, { timeoutMs: undefined });
    assert.equal(res.$typeName, "ttrpc.testing.EchoResponse");
    // @ts-expect-error text must be a string
    const bad = () => p.echo.echo({ text: 5 });
    assert.equal(typeof bad, "function");
    // @ts-expect-error client-streaming methods take no request argument
    const bad2 = () => p.echo.clientStream({ text: "x" }, {});
    assert.equal(typeof bad2, "function");
  } finally {
    await p.cleanup();
  }
});
