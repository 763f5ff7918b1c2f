/**
 * Request decoding on the server, in an interceptor instead of grpc-js's deserializer.
 *
 * grpc-js answers a request its deserializer throws on with INTERNAL "Error deserializing
 * request", hiding the reason and calling a client's malformed bytes a server fault. So
 * the server's service definition passes request bytes through unchanged, and
 * {@link requestDecodingInterceptor} — installed first, next to the wire — decodes them with
 * the method's codec. A ProtoDecodeError ends the call with INVALID_ARGUMENT
 * `MALFORMED_PROTOBUF: <method> request: <reason>` and the handler never sees the message;
 * grpc-js then cancels the call as it does after its own deserialization failure.
 * Later interceptors (the cluster's routing) and the handlers receive decoded messages.
 */
import * as grpc from '@grpc/grpc-js';
import { FlightErrorCode, ProtoDecodeError } from './errors.ts';
import { FlightServiceDefinition } from './service.ts';

const passThrough = (bytes: Buffer): Buffer => bytes;

/** FlightServiceDefinition with every request deserializer replaced by a pass-through. */
export function serverServiceDefinition(): grpc.ServiceDefinition {
  return Object.fromEntries(
    Object.entries(FlightServiceDefinition).map(([name, m]) => [
      name,
      { ...m, requestDeserialize: passThrough },
    ]),
  );
}

const decoderByPath = new Map<string, (bytes: Buffer) => unknown>(
  Object.values(FlightServiceDefinition).map((m) => [m.path, m.requestDeserialize]),
);

/** The status a malformed request ends with. */
export function malformedRequestStatus(method: string, err: ProtoDecodeError): grpc.StatusObject {
  return {
    code: grpc.status.INVALID_ARGUMENT,
    details: `${FlightErrorCode.malformedProtobuf}: ${method} request: ${err.message}`,
    metadata: new grpc.Metadata(),
  };
}

/** Decodes each request message with its method's codec (see the module comment). */
export const requestDecodingInterceptor: grpc.ServerInterceptor = (descriptor, call) => {
  const decode = decoderByPath.get(descriptor.path);
  if (!decode) return new grpc.ServerInterceptingCall(call);
  const method = descriptor.path.slice(descriptor.path.lastIndexOf('/') + 1);
  let failed = false;
  return new grpc.ServerInterceptingCall(call, {
    start: (next) =>
      next({
        onReceiveMessage: (message, forward) => {
          if (failed) return;
          let decoded: unknown;
          try {
            decoded = decode(message as Buffer);
          } catch (err) {
            if (!(err instanceof ProtoDecodeError)) throw err;
            failed = true;
            call.sendStatus(malformedRequestStatus(method, err));
            return;
          }
          forward(decoded);
        },
      }),
  });
};
