// An example stream handler module for the container image: `dispatchbox streams` runs
// every module in DISPATCHBOX_STREAMS_DIR (/app/stream-handlers in the image), and
// `dispatchbox streams --stream resources:commands --group resources_handler_group` this
// one alone. Each message of the stream is an envelope; `handle` gets its data.
export const stream = 'resources:commands';
export const group = 'resources_handler_group';

/**
 * @param {{ resource?: string }} data
 * @param {{ logger: { info: (fields: object, message: string) => void } }} ctx
 */
export async function handle(data, ctx) {
  ctx.logger.info({ resource: data.resource ?? null }, 'resource command handled');
}
