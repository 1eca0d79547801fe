// Public surface of the ttrpc library (containerd's ttrpc protocol over unix sockets).
export {
  type BidiStreamCall,
  type CallOptions,
  type ClientOptions,
  ClientStream,
  type ClientStreamingCall,
  type ServerStreamCall,
  type ServiceClient,
  TtrpcClient,
} from "./client.js";
export {
  encodeFrame,
  Flag,
  FrameDecoder,
  type FrameHeader,
  type FrameSink,
  HEADER_LENGTH,
  MESSAGE_LENGTH_MAX,
  MessageType,
  readHeader,
} from "./frame.js";
export { Metadata, type MetadataInit } from "./metadata.js";
export { type ListenTarget, type ServerOptions, socketFd, TtrpcServer } from "./server.js";
export {
  type BidiStreamingHandler,
  type CallContext,
  type ClientStreamingHandler,
  type MethodEntry,
  type MethodKind,
  type Peer,
  type PeerCredentials,
  rawMethod,
  type ServerStreamingHandler,
  type ServiceImpl,
  type UnaryHandler,
} from "./service.js";
export { Code, codeName, TtrpcError, toTtrpcError } from "./status.js";
