// An example handler module for the container image: `dispatchbox worker` loads every
// module in DISPATCHBOX_HANDLERS_DIR (/app/handlers in the image). Try it with
//   dispatchbox send example ping '{"from":"me"}'
export const domain = 'example';
export const type = 'ping';

/** @param {{ from?: string }} data */
export async function handle(data) {
  return { pong: data.from ?? 'anonymous' };
}
