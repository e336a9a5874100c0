/**
 * The batches role: a group of commands created in one atomic step, whose progress is
 * derived on read from where its commands are, and which sends its completion command
 * exactly once when it first finishes.
 */
import type { JsonValue, NewCommand } from '../../core/command.js';

export interface NewBatch {
  id: string;
  name: string | null;
  /**
   * Sent durably, exactly once, when the batch first finishes: every command of it
   * completed, cancelled or in troubleshooting. Never again after an operator's action.
   */
  onComplete: {
    domain: string;
    type: string;
    data: JsonValue;
    headers?: Record<string, string> | undefined;
  } | null;
}

export type BatchStatus = 'pending' | 'in_progress' | 'completed' | 'completed_with_failures';

export interface BatchCounts {
  total: number;
  pending: number;
  inProgress: number;
  completed: number;
  cancelled: number;
  troubleshooting: number;
  /** Commands with a failed attempt that have not succeeded: awaiting a retry or in troubleshooting. */
  failed: number;
}

/** What a batch is now, the same on every store (docs/lifecycle.md, Batches). */
export interface BatchInfo {
  id: string;
  name: string | null;
  /** Derived from the live counts and whether the batch has finished (batchStatus). */
  status: BatchStatus;
  /** Live: where every command of the batch is now, also after the finish. */
  counts: BatchCounts;
  createdAt: Date;
  /** When the batch first finished and sent its completion command; null before. */
  finishedAt: Date | null;
  completionCommandId: string | null;
}

export interface CreateBatchParams {
  batch: NewBatch;
  /** Chunks of commands, all inserted in one transaction with the batch. */
  chunks: Iterable<NewCommand[]> | AsyncIterable<NewCommand[]>;
}

export interface BatchStore {
  /** The batch and every command of it, or nothing (one transaction, or staged then committed). */
  createBatch(params: CreateBatchParams): Promise<BatchInfo>;
  getBatch(id: string): Promise<BatchInfo | null>;
  /** Batches newest first (by id): at most `limit`, those older than `afterId` when given. */
  listBatches(params: { limit: number; afterId?: string | undefined }): Promise<BatchInfo[]>;
  /** Finishes every batch (or the ones named) whose commands are all done; sends their completion commands. */
  finishBatches(params: { batchIds?: string[] }): Promise<BatchInfo[]>;
}
