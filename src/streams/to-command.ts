import type { JsonValue } from '../core/command.js';
import type { SendOptions } from '../core/send-options.js';
import type { StreamHandler } from './context.js';
import type { Envelope } from './envelope.js';

/**
 * A stream handler that turns each event into a command on the bus (given to the service
 * with `.withBus(bus)`): the event id is the command's idempotency key, so a redelivered
 * event never makes a second command, and the command carries the event's correlation id.
 * From there the bus's leases, retries, audit trail and troubleshooting queue apply.
 *
 *     .consume({ topics: ['orders'], group: 'orders-to-commands',
 *                handler: commandFromEvent('billing', 'charge', (data) => ({ orderId: data.id })) })
 */
export function commandFromEvent<TData = JsonValue>(
  domain: string,
  type: string,
  toData: (data: TData, event: Envelope) => JsonValue | object = (data) => data as JsonValue,
  options: Omit<SendOptions, 'idempotencyKey' | 'tx' | 'id'> = {},
): StreamHandler<TData> {
  return async (data, ctx) => {
    await ctx.send(domain, type, toData(data, ctx.event), {
      ...options,
      idempotencyKey: ctx.event.id,
    });
  };
}
