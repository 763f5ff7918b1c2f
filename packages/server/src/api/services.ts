/**
 * Which Flight methods each port serves, wrapped with request metrics:
 * - data (:3000): DoPut, DoGet, DoExchange (streaming search), and the light metadata calls too (ListFlights,
 *   GetFlightInfo, GetSchema, DoAction, ListActions), so a client holding one address can
 *   do everything;
 * - meta (:3001): only the light calls. Heavy transfers never run on it, so metadata calls
 *   stay answerable while the data port is busy.
 * Other methods answer UNIMPLEMENTED.
 */
import { status } from '@grpc/grpc-js';
import type { FlightHandlers } from '@longbow/flight';
import { doActionHandler, listActionsHandler } from './actions.ts';
import type { NodeContext } from './context.ts';
import { doExchangeHandler } from './exchange.ts';
import { doPutHandler } from './ingest.ts';
import { getFlightInfoHandler, getSchemaHandler, listFlightsHandler } from './meta.ts';
import { doGetHandler } from './query.ts';

const CODE_NAMES = Object.fromEntries(Object.entries(status).map(([name, code]) => [code, name])) as Record<
  number,
  string
>;

type AnyCall = { on(event: string, fn: (...args: unknown[]) => void): unknown };

/** Wraps a handler so every call counts into longbow_flight_requests_total and its duration histogram. */
function instrument<H extends (...args: never[]) => unknown>(
  ctx: NodeContext,
  method: string,
  handler: H,
): H {
  return ((call: AnyCall, callback?: (err: { code?: number } | null, value?: unknown) => void) => {
    const stop = ctx.metrics.flightDuration.startTimer({ method });
    let done = false;
    const finish = (code: number) => {
      if (done) return;
      done = true;
      stop();
      ctx.metrics.flightRequests.inc({ method, code: CODE_NAMES[code] ?? String(code) });
    };
    if (callback) {
      return (handler as unknown as (c: AnyCall, cb: typeof callback) => unknown)(call, (err, value) => {
        finish(err ? (err.code ?? status.UNKNOWN) : status.OK);
        callback(err, value);
      });
    }
    call.on('error', (err) => finish((err as { code?: number }).code ?? status.UNKNOWN));
    call.on('finish', () => finish(status.OK));
    call.on('cancelled', () => finish(status.CANCELLED));
    return (handler as unknown as (c: AnyCall) => unknown)(call);
  }) as unknown as H;
}

/** Handlers of the data port. */
export function dataHandlers(ctx: NodeContext): FlightHandlers {
  return {
    DoPut: instrument(ctx, 'DoPut', doPutHandler(ctx)),
    DoGet: instrument(ctx, 'DoGet', doGetHandler(ctx)),
    DoExchange: instrument(ctx, 'DoExchange', doExchangeHandler(ctx)),
    ...metaHandlers(ctx),
  };
}

/** Handlers of the meta port. */
export function metaHandlers(ctx: NodeContext): FlightHandlers {
  return {
    ListFlights: instrument(ctx, 'ListFlights', listFlightsHandler(ctx)),
    GetFlightInfo: instrument(ctx, 'GetFlightInfo', getFlightInfoHandler(ctx)),
    GetSchema: instrument(ctx, 'GetSchema', getSchemaHandler(ctx)),
    DoAction: instrument(ctx, 'DoAction', doActionHandler(ctx)),
    ListActions: instrument(ctx, 'ListActions', listActionsHandler()),
  };
}
