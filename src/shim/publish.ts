// Packs a containerd.events message and queues it on the publisher.
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { typeUrlOf } from "../api/typeurl.js";
import type { EventPublisher, EventSubject } from "./events.js";

export function publishEvent<D extends DescMessage>(
  ctx: { readonly events: EventPublisher },
  topic: string,
  schema: D,
  init: MessageInitShape<D>,
): void {
  ctx.events.publish(topic, typeUrlOf(schema), toBinary(schema, create(schema, init)), subjectOf(init));
}

/** The container (and exec) an event is about, from its containerId and id fields. */
function subjectOf(init: object): EventSubject | undefined {
  const { containerId, id } = init as { containerId?: unknown; id?: unknown };
  if (typeof containerId !== "string") return undefined;
  return typeof id === "string" && id !== "" && id !== containerId
    ? { container: containerId, process: id }
    : { container: containerId };
}
