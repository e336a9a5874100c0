// The container's HEALTHCHECK: exit 0 when GET /health on the worker's health port answers
// 200 within 2 s, 1 otherwise. The runtime image has no curl; Node's own fetch does the job.
const port = process.env.DISPATCHBOX_HEALTH_PORT || '8080';
try {
  const response = await fetch(`http://127.0.0.1:${port}/health`, {
    signal: AbortSignal.timeout(2000),
  });
  process.exit(response.ok ? 0 : 1);
} catch {
  process.exit(1);
}
