import type { JsonValue, NewCommand } from '../core/command.js';
import { ValidationError } from '../core/errors.js';
import { checkHeaders } from '../core/headers.js';
import { isUuid, uuidv7 } from '../core/ids.js';
import { toJsonText } from '../core/json.js';
import type { SentCommand } from '../core/events.js';
import { activeTracer, sendSpanEnds, startBatchSpan, withTrace } from '../core/tracing.js';
import type { Backend, BatchInfo } from '../backends/backend.js';
import { sentCommand, type BusEventSource } from './events.js';
import { checkBatchName, completionName } from './input-checks.js';
import type { CreateBatchOptions, SendItem } from './params.js';

/** Commands per chunk handed to the store: its statements stay a bounded size. */
const BATCH_CHUNK = 5000;

/** What batch creation needs of its bus. */
export interface BatchCreator {
  backend: Backend;
  source: BusEventSource;
  /** The bus traces (an SDK installed makes the spans). */
  tracing: boolean;
  /** The bus's checks of one send (CommandBus.prepare). */
  prepare(item: SendItem, where: string): NewCommand;
}

/** Creates a batch and all its commands atomically (streamed in chunks, one transaction). */
export async function createBatch(
  bus: BatchCreator,
  options: CreateBatchOptions,
): Promise<BatchInfo> {
  const calledAt = performance.now();
  const batchId = options.id ?? uuidv7();
  if (!isUuid(batchId)) throw new ValidationError('batch id must be a UUID', 'id');
  const name = checkBatchName(options.name);
  const onComplete = options.onComplete
    ? {
        domain: completionName(options.onComplete.domain, 'domain'),
        type: completionName(options.onComplete.type, 'type'),
        data: JSON.parse(
          toJsonText(options.onComplete.data ?? null, 'onComplete.data'),
        ) as JsonValue,
        headers: checkHeaders(options.onComplete.headers, 'onComplete.headers') ?? undefined,
      }
    : null;
  // one span for the batch, its context in every command and in the completion command
  const tracer = bus.tracing ? activeTracer() : null;
  const traced = tracer && startBatchSpan(tracer, batchId);
  if (onComplete && traced?.carrier)
    onComplete.headers = withTrace(onComplete.headers, traced.carrier);
  // the batch's commands are kept for the 'sent' event only when someone listens
  // only the fields the event names: a batch of millions keeps no payloads for it
  const stored: SentCommand[] | null = bus.source.listening('sent') ? [] : null;
  const creating = bus.backend.createBatch({
    batch: { id: batchId, name, onComplete },
    chunks: chunks(bus, options.commands, batchId, stored, traced),
  });
  const batch = await sendSpanEnds(traced?.span ?? null, creating, traced);
  if (stored) bus.source.sent(stored, false, calledAt);
  return batch;
}

/** The batch's commands checked and stamped with its id, BATCH_CHUNK at a time. */
async function* chunks(
  bus: BatchCreator,
  items: Iterable<SendItem> | AsyncIterable<SendItem>,
  batchId: string,
  stored: SentCommand[] | null,
  traced: { carrier: Record<string, string> | null; count: number } | null,
): AsyncIterable<NewCommand[]> {
  let chunk: NewCommand[] = [];
  let index = 0;
  for await (const item of items) {
    const command: NewCommand = { ...bus.prepare(item, `commands[${index++}]`), batchId };
    if (traced?.carrier) command.headers = withTrace(command.headers, traced.carrier);
    chunk.push(command);
    if (traced) traced.count = index;
    if (chunk.length === BATCH_CHUNK) {
      stored?.push(...chunk.map(sentCommand));
      yield chunk;
      chunk = [];
    }
  }
  stored?.push(...chunk.map(sentCommand));
  if (chunk.length > 0) yield chunk;
}
