/**
 * ListFlights, GetFlightInfo and GetSchema: one flight per dataset. Its FlightInfo carries
 * the stored Arrow schema, `total_records` (live rows), `total_bytes`, and one endpoint
 * whose ticket scans the whole dataset at this node's data address, so a plain Flight
 * client can go GetFlightInfo → DoGet. ListFlights' criteria expression, when given, is a
 * dataset-name prefix.
 */
import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js';
import {
  type Criteria,
  DescriptorType,
  encapsulateSchema,
  type FlightDescriptor,
  type FlightInfo,
  type SchemaResult,
} from '@longbow/flight';
import { HEADER_SCOPE } from '../cluster/routing.ts';
import { splitAddr } from '../config.ts';
import { ErrorCode, LongbowError, toStatusError } from '../errors.ts';
import type { Dataset } from '../store/dataset.ts';
import type { NodeContext } from './context.ts';

/** The URI clients use to reach this node's data server. */
export function dataLocation(ctx: NodeContext): string {
  const port = ctx.dataPort || splitAddr(ctx.config.listenAddr).port;
  const host = ctx.config.advertiseHost.includes(':')
    ? `[${ctx.config.advertiseHost}]`
    : ctx.config.advertiseHost;
  return `grpc+tcp://${host}:${port}`;
}

/** The FlightInfo of a dataset. */
export function flightInfo(ctx: NodeContext, ds: Dataset): FlightInfo {
  return {
    schema: encapsulateSchema(ds.def.schema),
    flightDescriptor: { type: DescriptorType.path, path: [ds.name] },
    endpoint: [
      {
        ticket: { ticket: Buffer.from(JSON.stringify({ dataset: ds.name })) },
        location: [{ uri: dataLocation(ctx) }],
      },
    ],
    totalRecords: BigInt(ds.liveCount),
    totalBytes: BigInt(ds.byteLength),
    ordered: true,
  };
}

function datasetOfDescriptor(ctx: NodeContext, d: FlightDescriptor): Dataset {
  if (d.type === DescriptorType.path && d.path?.length === 1) return ctx.store.require(d.path[0]!);
  if (d.type === DescriptorType.cmd && d.cmd) {
    const text = Buffer.from(d.cmd).toString('utf8');
    try {
      const json = JSON.parse(text) as { dataset?: unknown };
      if (typeof json.dataset === 'string') return ctx.store.require(json.dataset);
    } catch {
      // fall through to the error below
    }
  }
  throw new LongbowError(
    ErrorCode.invalidDescriptor,
    'descriptor must be PATH [dataset] or CMD {"dataset": name}',
  );
}

/**
 * ListFlights. On a single node: its datasets whose names start with the criteria
 * expression. In a cluster: the same listing from every live member, merged (each dataset
 * as its ring owner lists it; docs/cluster.md), unless the call carries
 * `x-longbow-scope: local`, which asks for this node's own datasets only. A member that does
 * not answer fails the call with UNAVAILABLE `MEMBER_UNREACHABLE`.
 */
export function listFlightsHandler(ctx: NodeContext) {
  return (call: ServerWritableStream<Criteria, FlightInfo>): void => {
    const prefix = call.request.expression ? Buffer.from(call.request.expression).toString('utf8') : '';
    const local = ctx.store
      .list()
      .filter((ds) => ds.name.startsWith(prefix))
      .map((ds) => flightInfo(ctx, ds));
    const send = (infos: readonly FlightInfo[]): void => {
      for (const info of infos) if (!call.cancelled) call.write(info);
      call.end();
    };
    if (!ctx.cluster || call.metadata.get(HEADER_SCOPE)[0] === 'local') {
      send(local);
      return;
    }
    ctx.cluster.listFlights(call.request, local, call.getDeadline()).then(send, (err: unknown) => {
      call.emit('error', toStatusError(err));
    });
  };
}

/** GetFlightInfo. */
export function getFlightInfoHandler(ctx: NodeContext) {
  return (call: ServerUnaryCall<FlightDescriptor, FlightInfo>, callback: sendUnaryData<FlightInfo>): void => {
    try {
      callback(null, flightInfo(ctx, datasetOfDescriptor(ctx, call.request)));
    } catch (err) {
      callback(toStatusError(err));
    }
  };
}

/** GetSchema. */
export function getSchemaHandler(ctx: NodeContext) {
  return (
    call: ServerUnaryCall<FlightDescriptor, SchemaResult>,
    callback: sendUnaryData<SchemaResult>,
  ): void => {
    try {
      callback(null, { schema: encapsulateSchema(datasetOfDescriptor(ctx, call.request).def.schema) });
    } catch (err) {
      callback(toStatusError(err));
    }
  };
}
