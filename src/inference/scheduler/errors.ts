import { DeepscaleError } from '../../errors.ts';

/** The engine used the scheduler out of order (a stale output, a token for an unscheduled sequence). */
export class SchedulerError extends DeepscaleError {
  constructor(message: string) {
    super('scheduler_error', message);
  }
}
