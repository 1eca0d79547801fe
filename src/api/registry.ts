// Every message of the API we speak, for packing and unpacking google.protobuf.Any
// (event payloads, runtime options, stats) and for JSON of messages that hold an Any.
// Add each new generated file here; test/unit/api-registry.test.ts fails if one is missing.
import { createRegistry, type Registry } from "@bufbuild/protobuf";
import {
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
} from "@bufbuild/protobuf/wkt";
import { file_containerd_events_task } from "./gen/containerd/events/task_pb.js";
import { file_containerd_runc_v1_options } from "./gen/containerd/runc/v1/options_pb.js";
import { file_containerd_runtime_bootstrap_v1_bootstrap } from "./gen/containerd/runtime/bootstrap/v1/bootstrap_pb.js";
import { file_containerd_services_containers_v1_containers } from "./gen/containerd/services/containers/v1/containers_pb.js";
import { file_containerd_services_events_ttrpc_v1_events } from "./gen/containerd/services/events/ttrpc/v1/events_pb.js";
import { file_containerd_services_events_v1_events } from "./gen/containerd/services/events/v1/events_pb.js";
import { file_containerd_services_tasks_v1_tasks } from "./gen/containerd/services/tasks/v1/tasks_pb.js";
import { file_containerd_services_version_v1_version } from "./gen/containerd/services/version/v1/version_pb.js";
import { file_containerd_task_v2_shim } from "./gen/containerd/task/v2/shim_pb.js";
import { file_containerd_task_v3_shim } from "./gen/containerd/task/v3/shim_pb.js";
import { file_containerd_types_descriptor } from "./gen/containerd/types/descriptor_pb.js";
import { file_containerd_types_event } from "./gen/containerd/types/event_pb.js";
import { file_containerd_types_metrics } from "./gen/containerd/types/metrics_pb.js";
import { file_containerd_types_mount } from "./gen/containerd/types/mount_pb.js";
import { file_containerd_types_platform } from "./gen/containerd/types/platform_pb.js";
import { file_containerd_v1_types_task } from "./gen/containerd/v1/types/task_pb.js";
import { file_google_rpc_status } from "./gen/google/rpc/status_pb.js";
import { file_io_containerd_cgroups_v1_metrics } from "./gen/io/containerd/cgroups/v1/metrics_pb.js";
import { file_io_containerd_cgroups_v2_metrics } from "./gen/io/containerd/cgroups/v2/metrics_pb.js";
import { file_runtime_v1_api } from "./gen/runtime/v1/api_pb.js";
import { file_ttrpc_ttrpc } from "./gen/ttrpc/ttrpc_pb.js";

/** The generated files (and the well-known types they use), in one list. */
export const apiFiles = [
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
  file_google_rpc_status,
  file_ttrpc_ttrpc,
  file_containerd_types_descriptor,
  file_containerd_types_event,
  file_containerd_types_metrics,
  file_containerd_types_mount,
  file_containerd_types_platform,
  file_containerd_v1_types_task,
  file_containerd_task_v2_shim,
  file_containerd_task_v3_shim,
  file_containerd_events_task,
  file_containerd_services_events_ttrpc_v1_events,
  file_containerd_services_events_v1_events,
  file_containerd_services_tasks_v1_tasks,
  file_containerd_services_containers_v1_containers,
  file_containerd_services_version_v1_version,
  file_containerd_runc_v1_options,
  file_containerd_runtime_bootstrap_v1_bootstrap,
  file_io_containerd_cgroups_v1_metrics,
  file_io_containerd_cgroups_v2_metrics,
  file_runtime_v1_api,
] as const;

/** Registry of every message, enum and service above, looked up by full name. */
export const apiRegistry: Registry = createRegistry(...apiFiles);
