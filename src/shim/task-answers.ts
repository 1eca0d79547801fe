// Published answers for a restarted containerd's calls. After a restart containerd
// dials every shim in turn and asks Connect, then State for each task; in a Node
// shim those rare calls would run unoptimised JS, several times slower than a Go
// shim answers them. So the Task service publishes, per container, the exact
// request bytes containerd sends and the answer it would give, and the native
// wire (native/wire_answers.c) answers matching requests without JS. A
// container's answers are withdrawn while any call that can change them runs,
// and published again afterwards and after each exit: a published answer is
// always the one the JS handler would give at that moment.
import { Task } from "../api/gen/containerd/task/v2/shim_pb.js";
import {
  type ConnectResponseInit,
  encodeConnectRequest,
  encodeConnectResponse,
  encodeStateRequest,
  encodeStateResponse,
  type StateResponseInit,
} from "./task-codecs.js";

/** The Task service's wire names: containerd 1.x calls v2, containerd 2.x v3 (same messages). */
export const TASK_SERVICE_NAMES: readonly string[] = [Task.typeName, "containerd.task.v3.Task"];

/** Where answers are published: the native wire (src/shim/native-wire.ts). */
export interface AnswerBoard {
  /** A unary call on service/method whose payload is exactly `request` gets `response`. */
  set(group: string, service: string, method: string, request: Uint8Array, response: Uint8Array): void;
  /** Withdraws the group's answers (all, without a group). */
  clear(group?: string): void;
}

/** What one container answers: Connect, and State for each of its processes. */
export interface ContainerAnswers {
  readonly id: string;
  readonly connect: ConnectResponseInit;
  readonly states: Iterable<{ readonly execId: string; readonly state: StateResponseInit }>;
}

/** Replaces the container's published answers with `answers`. */
export function publishAnswers(board: AnswerBoard, answers: ContainerAnswers): void {
  const { id } = answers;
  board.clear(id);
  const connectRequest = encodeConnectRequest(id);
  const connect = encodeConnectResponse(answers.connect);
  const states: Array<[Uint8Array, Uint8Array]> = [];
  for (const s of answers.states)
    states.push([encodeStateRequest(id, s.execId), encodeStateResponse(s.state)]);
  for (const service of TASK_SERVICE_NAMES) {
    board.set(id, service, "Connect", connectRequest, connect);
    for (const [request, response] of states) board.set(id, service, "State", request, response);
  }
}
