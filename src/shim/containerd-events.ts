// Sends events to containerd with Events/Forward over its ttrpc socket
// ($TTRPC_ADDRESS). The connection is made lazily and remade after a failure,
// so a restarting containerd is simply retried by the publisher.
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Events, ForwardRequestSchema } from "../api/gen/containerd/services/events/ttrpc/v1/events_pb.js";
import { TtrpcClient } from "../ttrpc/client.js";
import { addressToPath } from "./address.js";
import { type EventSender, MaybeDelivered, type ShimEvent } from "./events.js";

const FORWARD_TIMEOUT_MS = 5_000;

export function containerdEventSender(ttrpcAddress: string, namespace: string): EventSender {
  const path = addressToPath(ttrpcAddress);
  let client: TtrpcClient | undefined;
  return async (event: ShimEvent): Promise<void> => {
    if (client === undefined || client.closed) client = new TtrpcClient(path);
    const c = client;
    try {
      await c.service(Events).forward(
        create(ForwardRequestSchema, {
          envelope: {
            timestamp: timestampFromDate(event.timestamp),
            namespace,
            topic: event.topic,
            event: { typeUrl: event.typeUrl, value: event.payload },
          },
        }),
        { timeoutMs: FORWARD_TIMEOUT_MS },
      );
    } catch (err) {
      c.close();
      if (client === c) client = undefined;
      // Connected before the failure: the request went out, and containerd may
      // have taken the event before it died (a refused dial never reached it).
      throw c.everConnected ? new MaybeDelivered(err) : err;
    }
  };
}
