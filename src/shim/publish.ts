// Packs a containerd.events message and queues it on the publisher.
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { typeUrlOf } from "../api/typeurl.js";
import type { EventPublisher } from "./events.js";

export function publishEvent<D extends DescMessage>(
  ctx: { readonly events: EventPublisher },
  topic: string,
  schema: D,
  init: MessageInitShape<D>,
): void {
  ctx.events.publish(topic, typeUrlOf(schema), toBinary(schema, create(schema, init)));
}
