/** The header's list of running jobs (bulk actions, load generation) with their progress. */
import { useJobs } from '../jobs';
import { Progress } from './common';

export function JobsIndicator() {
  const running = useJobs().filter((job) => job.state === 'running');
  if (running.length === 0) return null;
  return (
    <section class="jobs-indicator" aria-label="Running jobs" aria-live="polite">
      {running.map((job) => (
        <div key={job.id} class="job">
          <span class="job-label">{job.label}</span>
          <Progress label={job.label} done={job.done} total={job.total} failed={job.failed} />
        </div>
      ))}
    </section>
  );
}
