import { randomUUID } from 'node:crypto';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import type { LogEntry, Task, TaskStatusPage } from '../../../protocol/index.js';
import { applyUpdate, newTask } from '../apply-update.js';
import {
  IdempotencyMismatchError,
  StoreUnavailableError,
  TaskExistsError,
  TaskNotFoundError,
} from '../store-errors.js';
import type {
  AppendInput,
  AppendResult,
  NewTask,
  ReadPageInput,
  StoredTask,
  TaskStore,
} from '../task-store.js';
import { isConditionalCheckFailed, toStoreError } from './errors.js';
import {
  isExpired,
  packLines,
  taskOfStatusItem,
  toLogEntry,
  toStoredLine,
  ttlFrom,
  type BatchItem,
  type IdempotencyItem,
  type PartItem,
  type StatusItem,
} from './items.js';
import {
  agentKey,
  batchSk,
  BATCH_SK_PREFIX,
  BY_AGENT_INDEX,
  createdKey,
  idempotencySk,
  partSk,
  STATUS_SK,
  taskPk,
} from './keys.js';

export interface DynamoTaskStoreConfig {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** How long log lines (and idempotency answers) are kept. */
  logTtlDays: number;
  /** The clock reads use to hide expired lines; writes use their own `now`. */
  clock?: () => Date;
  /** Runs after the client is destroyed on close (e.g. stops an embedded dynalite). */
  onClose?: () => Promise<void>;
  /** Fault injection for tests: runs right after a write's batch item claimed its slot. */
  afterClaim?: (taskId: string, fromSeq: number) => Promise<void> | void;
}

/**
 * A writer that keeps losing the race for the next slot gives up after this many tries (with 10
 * writers on one task a loser needs about 10); the caller gets a 503 and may retry.
 */
const SLOT_ATTEMPTS_MAX = 100;
/** A status item lagging its tail batch for this long was left behind by a crashed writer. */
const ABANDONED_AFTER_MS = 10_000;
/** Parts of one big write put in parallel. */
const PART_WRITES_PARALLEL = 4;

/** What the latest batch item says, without its lines (the tail Query projects these only). */
type BatchHead = Pick<
  BatchItem,
  'sk' | 'fromSeq' | 'toSeq' | 'task' | 'idem' | 'ttl' | 'lineCount' | 'writtenAt'
>;

interface Head {
  status: StatusItem;
  /** The latest batch item, or null when nothing was ever written. */
  tail: BatchHead | null;
  /** The true current task: the status item, or the tail's snapshot when that is newer. */
  task: Task;
  /** The tail, when the status item has not caught up with it (a write in progress, or a crash). */
  lagging: BatchHead | null;
}

/**
 * TaskStore on one DynamoDB table, without transactions (see ./README.md for the design):
 * every write is one batch item keyed by its first seq and put with `attribute_not_exists`, so
 * the table itself allocates seqs; the status item is a cache of the head that may lag behind
 * by one write after a crash, and every reader and writer folds the latest batch in.
 */
export class DynamoTaskStore implements TaskStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #logTtlDays: number;
  readonly #clock: () => Date;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #afterClaim: DynamoTaskStoreConfig['afterClaim'];
  readonly #turns = new Map<string, Promise<void>>();
  #closed = false;

  constructor(config: DynamoTaskStoreConfig) {
    this.#client = config.client;
    this.#table = config.tableName;
    this.#logTtlDays = config.logTtlDays;
    this.#clock = config.clock ?? (() => new Date());
    this.#onClose = config.onClose;
    this.#afterClaim = config.afterClaim;
  }

  createTask({ id, agentId, title, tokenHash, now }: NewTask): Promise<Task> {
    return this.#guard(async () => {
      const task = newTask(id, agentId, title, now);
      const createId = randomUUID();
      const item: StatusItem = {
        pk: taskPk(id),
        sk: STATUS_SK,
        ...task,
        tokenHash,
        agentKey: agentKey(agentId),
        createdKey: createdKey(task.createdAt, id),
        createId,
      };
      if (!(await this.#claim(item, 'createId', createId))) throw new TaskExistsError(id);
      return task;
    });
  }

  getTask(taskId: string): Promise<StoredTask | null> {
    return this.#guard(async () => {
      const head = await this.#readHead(taskId);
      if (!head) return null;
      await this.#repairIfAbandoned(taskId, head);
      return { task: head.task, tokenHash: head.status.tokenHash };
    });
  }

  replaceTokenHash(taskId: string, tokenHash: string): Promise<void> {
    return this.#guard(async () => {
      try {
        // Its own attribute: #advanceStatus sets only the status fields, so no write puts the old hash back.
        await this.#client.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: { pk: taskPk(taskId), sk: STATUS_SK },
            UpdateExpression: 'SET tokenHash = :tokenHash',
            ConditionExpression: 'attribute_exists(pk)',
            ExpressionAttributeValues: { ':tokenHash': tokenHash },
          }),
        );
      } catch (error) {
        if (isConditionalCheckFailed(error)) throw new TaskNotFoundError(taskId);
        throw error;
      }
    });
  }

  append(taskId: string, input: AppendInput): Promise<AppendResult> {
    // Writes to one task from this instance take turns: they would only race each other for the
    // same slot, each loss costing DynamoDB requests. Other instances still race, and lose safely.
    return this.#inTurn(taskId, () => this.#guard(() => this.#append(taskId, input)));
  }

  async #append(taskId: string, { update, now, idempotency }: AppendInput): Promise<AppendResult> {
    const pk = taskPk(taskId);
    const ttl = ttlFrom(now, this.#logTtlDays);
    const writeId = randomUUID();
    let parts: BatchItem['parts'];
    for (let attempt = 1; attempt <= SLOT_ATTEMPTS_MAX; attempt++) {
      const head = await this.#readHead(taskId);
      if (!head) throw new TaskNotFoundError(taskId);

      if (idempotency) {
        // The tail first, then the IDEM item: every batch before the tail has its IDEM item by
        // now (a writer completes the tail before it writes after it), so the two reads together
        // see any earlier write with this key. See README, "Idempotency".
        const tail = head.tail;
        const earlier =
          tail?.idem?.key === idempotency.key && !isExpired(tail, now)
            ? { fingerprint: tail.idem.fingerprint, task: tail.task, fromSeq: tail.fromSeq }
            : await this.#getIdempotency(taskId, idempotency.key, now);
        if (earlier) {
          if (earlier.fingerprint !== idempotency.fingerprint)
            throw new IdempotencyMismatchError(idempotency.key);
          return { task: earlier.task, fromSeq: earlier.fromSeq, logs: [], replayed: true };
        }
      }
      // A batch may only follow a tail whose IDEM item exists (the writer may have crashed).
      if (head.lagging?.idem) await this.#putIdempotency(taskId, head.lagging);
      await this.#repairIfAbandoned(taskId, head);

      // Checked against the true head; the conditional put below fails if anyone wrote since.
      const applied = applyUpdate(head.task, update, now);
      if (applied.task.seq === head.task.seq) return { ...applied, replayed: false };

      const groups = packLines(applied.logs.map(toStoredLine));
      if (groups.length > 1 && parts === undefined) {
        parts = await this.#stageParts(taskId, writeId, groups, ttl);
      }
      const item: BatchItem = {
        pk,
        sk: batchSk(applied.fromSeq),
        fromSeq: applied.fromSeq,
        toSeq: applied.task.seq,
        task: applied.task,
        lineCount: applied.logs.length,
        lines: groups.length === 1 ? groups[0] : undefined,
        parts,
        idem: idempotency && { key: idempotency.key, fingerprint: idempotency.fingerprint },
        ttl,
        writtenAt: this.#clock().getTime(),
        writeId,
      };
      if (!(await this.#claim(item, 'writeId', writeId))) {
        // Another writer took the slot: read the new tail and try the next one.
        if (attempt > 2) await sleep(Math.random() * Math.min(50, attempt * 2));
        continue;
      }
      await this.#afterClaim?.(taskId, applied.fromSeq);
      if (item.idem) await this.#putIdempotency(taskId, item);
      await this.#advanceStatus(taskId, item);
      return { ...applied, replayed: false };
    }
    throw new StoreUnavailableError(`too many concurrent writes to task "${taskId}"; try again`, 1);
  }

  /** Runs `work` after every earlier call for the same task has settled. */
  #inTurn<T>(taskId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#turns.get(taskId) ?? Promise.resolve();
    const run = previous.then(work);
    const settled = run.then(
      () => {},
      () => {},
    );
    this.#turns.set(taskId, settled);
    void settled.then(() => {
      if (this.#turns.get(taskId) === settled) this.#turns.delete(taskId);
    });
    return run;
  }

  readPage(taskId: string, { afterSeq, beforeSeq, limit }: ReadPageInput): Promise<TaskStatusPage | null> {
    return this.#guard(async () => {
      const head = await this.#readHead(taskId);
      if (!head) return null;
      await this.#repairIfAbandoned(taskId, head);
      const task = head.task;
      const now = this.#clock();
      if (afterSeq !== undefined) {
        const collected = await this.#linesForward(taskId, afterSeq, task.seq, limit + 1, now);
        const hasMore = collected.length > limit;
        const logs = collected.slice(0, limit);
        const nextAfterSeq = hasMore ? logs[logs.length - 1]!.seq : Math.max(task.seq, afterSeq);
        return { task, logs, nextAfterSeq, hasMore, hasOlder: false };
      }
      const end = beforeSeq === undefined ? task.seq : Math.min(beforeSeq - 1, task.seq);
      const collected = await this.#linesBackward(taskId, end, limit + 1, now);
      const hasOlder = collected.length > limit;
      return { task, logs: collected.slice(-limit), nextAfterSeq: task.seq, hasMore: false, hasOlder };
    });
  }

  getActiveTask(agentId: string): Promise<Task | null> {
    return this.#guard(async () => {
      // GSIs are eventually consistent: just after a create this may still name the previous task.
      const { Items } = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          IndexName: BY_AGENT_INDEX,
          KeyConditionExpression: 'agentKey = :a',
          ExpressionAttributeValues: { ':a': agentKey(agentId) },
          ScanIndexForward: false,
          Limit: 1,
        }),
      );
      const pk = Items?.[0]?.pk as string | undefined;
      if (pk === undefined) return null;
      const head = await this.#readHead(pk.slice(taskPk('').length));
      return head?.task ?? null;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.destroy();
    await this.#onClose?.();
  }

  // ---- reading the head -------------------------------------------------------------------

  /** The status item and the latest batch, read together (both strongly consistent). */
  async #readHead(taskId: string): Promise<Head | null> {
    const pk = taskPk(taskId);
    const [statusOut, tailOut] = await Promise.all([
      this.#client.send(
        new GetCommand({ TableName: this.#table, Key: { pk, sk: STATUS_SK }, ConsistentRead: true }),
      ),
      this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :log)',
          ExpressionAttributeValues: { ':pk': pk, ':log': BATCH_SK_PREFIX },
          // Everything but the lines: the tail is read on every write.
          ProjectionExpression: '#sk, #fromSeq, #toSeq, #task, #idem, #ttl, #lineCount, #writtenAt',
          ExpressionAttributeNames: {
            '#sk': 'sk',
            '#fromSeq': 'fromSeq',
            '#toSeq': 'toSeq',
            '#task': 'task',
            '#idem': 'idem',
            '#ttl': 'ttl',
            '#lineCount': 'lineCount',
            '#writtenAt': 'writtenAt',
          },
          ScanIndexForward: false,
          Limit: 1,
          ConsistentRead: true,
        }),
      ),
    ]);
    const status = statusOut.Item as StatusItem | undefined;
    if (!status) return null;
    const tail = (tailOut.Items?.[0] as BatchHead | undefined) ?? null;
    // The status item can lag the tail by one write (crash before its update); it can also be
    // ahead of the tail we read, when a write landed between the two reads.
    const lagging = tail && tail.toSeq > status.seq ? tail : null;
    return { status, tail, task: lagging ? lagging.task : taskOfStatusItem(status), lagging };
  }

  /**
   * Puts `item` where no item is yet. False: another item holds the key. A failed condition can
   * also mean the SDK resent our own put after losing its answer, so the key is read back and
   * counts as ours when its `idAttribute` carries our id.
   */
  async #claim(
    item: { pk: string; sk: string },
    idAttribute: 'createId' | 'writeId',
    id: string,
  ): Promise<boolean> {
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: item,
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: item.pk, sk: item.sk },
        ProjectionExpression: '#id',
        ExpressionAttributeNames: { '#id': idAttribute },
        ConsistentRead: true,
      }),
    );
    return (Item as Record<string, unknown> | undefined)?.[idAttribute] === id;
  }

  async #getIdempotency(taskId: string, key: string, now: Date): Promise<IdempotencyItem | null> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: { pk: taskPk(taskId), sk: idempotencySk(key) },
        ConsistentRead: true,
      }),
    );
    const item = Item as IdempotencyItem | undefined;
    return item && !isExpired(item, now) ? item : null;
  }

  // ---- writing ----------------------------------------------------------------------------

  /**
   * A write's side effects after its batch item, in this order: the IDEM item, then the status
   * item (forward only). Both are idempotent, so anyone can redo them for a writer that crashed;
   * a status item at the batch's seq therefore means the IDEM item exists too.
   */
  async #putIdempotency(taskId: string, batch: BatchHead): Promise<void> {
    if (!batch.idem) return;
    const item: IdempotencyItem = {
      pk: taskPk(taskId),
      sk: idempotencySk(batch.idem.key),
      key: batch.idem.key,
      fingerprint: batch.idem.fingerprint,
      fromSeq: batch.fromSeq,
      task: batch.task,
      ttl: batch.ttl,
    };
    await this.#ignoreConditionFailure(
      new PutCommand({
        TableName: this.#table,
        Item: item,
        // An expired leftover (dynalite never deletes) may be replaced; a live one is the same write.
        ConditionExpression: 'attribute_not_exists(pk) OR #ttl <= :now',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':now': Math.floor(this.#clock().getTime() / 1000) },
      }),
    );
  }

  async #advanceStatus(taskId: string, batch: BatchHead): Promise<void> {
    const { task } = batch;
    await this.#ignoreConditionFailure(
      new UpdateCommand({
        TableName: this.#table,
        Key: { pk: taskPk(taskId), sk: STATUS_SK },
        UpdateExpression:
          'SET #phase = :phase, #progress = :progress, #message = :message, #seq = :seq, #updatedAt = :updatedAt',
        // Only forward: a slower writer must not put back an older head.
        ConditionExpression: 'attribute_exists(pk) AND #seq < :seq',
        ExpressionAttributeNames: {
          '#phase': 'phase',
          '#progress': 'progress',
          '#message': 'message',
          '#seq': 'seq',
          '#updatedAt': 'updatedAt',
        },
        ExpressionAttributeValues: {
          ':phase': task.phase,
          ':progress': task.progress,
          ':message': task.message,
          ':seq': task.seq,
          ':updatedAt': task.updatedAt,
        },
      }),
    );
  }

  /**
   * Finishes the side effects of a tail batch whose writer evidently died after claiming its slot
   * (the status item still lags well after the write). Left alone, the status item would lag
   * until the next write, and revert once DynamoDB's TTL deletes the batch. A lag younger than
   * that is a writer still at work: repairing it too would only double its requests.
   */
  async #repairIfAbandoned(taskId: string, head: Head): Promise<void> {
    const tail = head.lagging;
    if (!tail) return;
    const age = this.#clock().getTime() - tail.writtenAt;
    if (age < ABANDONED_AFTER_MS) return;
    await this.#putIdempotency(taskId, tail);
    await this.#advanceStatus(taskId, tail);
  }

  /**
   * Lines that do not fit one item are written first, under a key of their own, before the batch
   * item claims a slot: the whole write becomes visible at once, and a crash before the claim
   * leaves only unreachable parts (expiring with their TTL).
   */
  async #stageParts(
    taskId: string,
    writeId: string,
    groups: BatchItem['lines'][],
    ttl: number,
  ): Promise<NonNullable<BatchItem['parts']>> {
    const pk = taskPk(taskId);
    const items: PartItem[] = groups.map((lines, index) => ({
      pk,
      sk: partSk(writeId, index),
      lines: lines!,
      ttl,
    }));
    for (let i = 0; i < items.length; i += PART_WRITES_PARALLEL) {
      await Promise.all(
        items
          .slice(i, i + PART_WRITES_PARALLEL)
          .map((Item) => this.#client.send(new PutCommand({ TableName: this.#table, Item }))),
      );
    }
    return { writeId, counts: groups.map((lines) => lines!.length) };
  }

  async #ignoreConditionFailure(command: PutCommand | UpdateCommand): Promise<void> {
    try {
      await this.#client.send(command as PutCommand);
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
    }
  }

  // ---- reading lines ----------------------------------------------------------------------

  /** Up to `want` unexpired lines with seq in (afterSeq, headSeq], in order. */
  async #linesForward(
    taskId: string,
    afterSeq: number,
    headSeq: number,
    want: number,
    now: Date,
  ): Promise<LogEntry[]> {
    const out: LogEntry[] = [];
    if (afterSeq >= headSeq) return out;
    const take = async (batch: BatchItem) => {
      if (isExpired(batch, now)) return;
      const first = Math.max(0, afterSeq + 1 - batch.fromSeq);
      const last = Math.min(batch.lineCount - 1, headSeq - batch.fromSeq, first + (want - out.length) - 1);
      if (first <= last) out.push(...(await this.#linesOf(taskId, batch, first, last)));
    };
    // The batch holding afterSeq + 1 may start before it: the latest batch starting at or before it.
    const [containing] = await this.#queryBatches(taskId, 1, afterSeq + 1, false, 1);
    if (containing && containing.toSeq > afterSeq) await take(containing);
    let startKey: Record<string, unknown> | undefined;
    while (out.length < want && afterSeq + 2 <= headSeq) {
      const page = await this.#queryBatchPage(
        taskId,
        afterSeq + 2,
        headSeq,
        true,
        want - out.length,
        startKey,
      );
      for (const batch of page.items) {
        if (out.length >= want) break;
        await take(batch);
      }
      startKey = page.lastKey;
      if (!startKey) break;
    }
    return out;
  }

  /** The last `want` unexpired lines with seq <= endSeq, in order. */
  async #linesBackward(taskId: string, endSeq: number, want: number, now: Date): Promise<LogEntry[]> {
    const chunks: LogEntry[][] = [];
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    while (count < want && endSeq >= 1) {
      const page = await this.#queryBatchPage(taskId, 1, endSeq, false, want - count, startKey);
      for (const batch of page.items) {
        if (count >= want) break;
        if (isExpired(batch, now)) continue;
        const last = Math.min(batch.lineCount - 1, endSeq - batch.fromSeq);
        const first = Math.max(0, last - (want - count) + 1);
        if (first > last) continue;
        const lines = await this.#linesOf(taskId, batch, first, last);
        chunks.push(lines);
        count += lines.length;
      }
      startKey = page.lastKey;
      if (!startKey) break;
    }
    return chunks.reverse().flat();
  }

  /** Lines at positions first..last of a batch, fetching only the parts that hold them. */
  async #linesOf(taskId: string, batch: BatchItem, first: number, last: number): Promise<LogEntry[]> {
    if (batch.lines) {
      return batch.lines.slice(first, last + 1).map((line, i) => toLogEntry(line, batch.fromSeq + first + i));
    }
    if (!batch.parts) throw new Error(`batch ${batch.sk} of task "${taskId}" has neither lines nor parts`);
    const { writeId, counts } = batch.parts;
    const wanted: { index: number; offset: number }[] = [];
    let offset = 0;
    counts.forEach((count, index) => {
      if (offset <= last && offset + count - 1 >= first) wanted.push({ index, offset });
      offset += count;
    });
    const parts = await Promise.all(
      wanted.map(async ({ index, offset: partOffset }) => {
        const { Item } = await this.#client.send(
          new GetCommand({
            TableName: this.#table,
            Key: { pk: taskPk(taskId), sk: partSk(writeId, index) },
            ConsistentRead: true,
          }),
        );
        if (!Item) throw new Error(`part ${index} of batch ${batch.sk} of task "${taskId}" is missing`);
        return (Item as PartItem).lines.map((line, i) => toLogEntry(line, batch.fromSeq + partOffset + i));
      }),
    );
    const firstSeq = batch.fromSeq + first;
    const lastSeq = batch.fromSeq + last;
    return parts.flat().filter((line) => line.seq >= firstSeq && line.seq <= lastSeq);
  }

  async #queryBatches(
    taskId: string,
    fromSeq: number,
    toSeq: number,
    forward: boolean,
    limit: number,
  ): Promise<BatchItem[]> {
    return (await this.#queryBatchPage(taskId, fromSeq, toSeq, forward, limit, undefined)).items;
  }

  /** One Query page of batch items keyed fromSeq..toSeq (a page stops at 1 MB or `limit` items). */
  async #queryBatchPage(
    taskId: string,
    fromSeq: number,
    toSeq: number,
    forward: boolean,
    limit: number,
    startKey: Record<string, unknown> | undefined,
  ): Promise<{ items: BatchItem[]; lastKey: Record<string, unknown> | undefined }> {
    const input: QueryCommandInput = {
      TableName: this.#table,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :lo AND :hi',
      ExpressionAttributeValues: { ':pk': taskPk(taskId), ':lo': batchSk(fromSeq), ':hi': batchSk(toSeq) },
      ScanIndexForward: forward,
      Limit: Math.max(1, limit),
      ConsistentRead: true,
      ExclusiveStartKey: startKey,
    };
    const out = await this.#client.send(new QueryCommand(input));
    return { items: (out.Items ?? []) as BatchItem[], lastKey: out.LastEvaluatedKey };
  }

  // ---- errors -----------------------------------------------------------------------------

  async #guard<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toStoreError(error);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
