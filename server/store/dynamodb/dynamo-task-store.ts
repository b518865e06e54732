import { randomUUID } from 'node:crypto';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { isTerminal, type Task, type TaskStatusPage } from '../../../protocol/index.js';
import { newTask } from '../apply-update.js';
import { DEFAULT_LOG_QUOTA, NO_USAGE, type LogQuota, type LogUsage } from '../log-quota.js';
import { PAGE_MAX_BYTES, PageCollector } from '../page-collector.js';
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
import { applyGroup, groupSize } from './group-commit.js';
import {
  isExpired,
  linesOf,
  packLines,
  type LineGroup,
  taskOfStatusItem,
  toLogEntry,
  toStoredLine,
  ttlFrom,
  usageOf,
  type BatchItem,
  type IdempotencyItem,
  type PartItem,
  type StatusItem,
  type StoredLine,
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
import {
  DEFAULT_HEAD_FRESH_MS,
  DEFAULT_KNOWN_TASKS,
  KnownHeads,
  WRITE_MAX_AGE_MS,
  type BatchHead,
  type KnownHead,
} from './known-heads.js';

export interface DynamoTaskStoreConfig {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** How long log lines (and idempotency answers) are kept. */
  logTtlDays: number;
  /** The most log a task may hold (default DEFAULT_LOG_QUOTA). */
  logQuota?: LogQuota;
  /** The clock reads use to hide expired lines; writes use their own `now`. */
  clock?: () => Date;
  /** Runs after the client is destroyed on close (e.g. stops an embedded dynalite). */
  onClose?: () => Promise<void>;
  /**
   * How long a head this instance confirmed (by its own write, or a read) answers reads without
   * a DynamoDB request: how late a write through another instance may show here. Default
   * DEFAULT_HEAD_FRESH_MS; 0: every read asks DynamoDB (writes still go on from what they know).
   */
  headFreshMs?: number;
  /**
   * How long a write's status update may wait, to be coalesced with the task's next writes (e.g.
   * STATUS_WRITE_BEHIND_MS); 0 (the default): each write updates the status item before it
   * answers. Only for a table that never deletes items (the embedded dynalite): with DynamoDB's
   * TTL, a status update lost to a crash would let the status item fall back to an older head
   * once the batches after it expire (see ./README.md).
   */
  statusWriteBehindMs?: number;
  /**
   * The endpoint has transactions (DynamoDB, DynamoDB Local; not dynalite): a write with an
   * Idempotency-Key puts its batch and its IDEM item in one TransactWriteItems, the item's
   * condition finding an earlier write with the key, instead of reading the IDEM item first and
   * writing it after (4 requests down to 2). `openStore` asks the endpoint (supportsTransactions).
   */
  transactions?: boolean;
  /**
   * Write a batch's lines as one packed string (items.ts; a fifth less CPU per 50-line POST) rather
   * than as a list of maps. Both are always read; a version before packing reads only the maps, so
   * instances turn it on once none of those runs (DYNAMODB_PACKED_LINES). Default false; the
   * embedded dynalite, one instance, packs.
   */
  packedLines?: boolean;
  /** How many tasks' heads are remembered (default DEFAULT_KNOWN_TASKS); 0: none. */
  knownTasks?: number;
  /** A monotonic clock in ms (default performance.now), for the age of a known head. */
  monotonicNow?: () => number;
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
/**
 * With `statusWriteBehindMs` set to it, a busy task's status item is updated at most once per this
 * long (issue 15): each write is one put, and the update after it waits for the writes that
 * follow. Safe on a table that keeps every batch: the batch item is the write (it holds the task
 * after it) and every reader folds the latest batch into the status item; a crash meanwhile leaves
 * a lag that readers repair (ABANDONED_AFTER_MS). A write that ends the task updates it at once.
 */
export const STATUS_WRITE_BEHIND_MS = 1_000;
/** Parts of one big write put in parallel. */
const PART_WRITES_PARALLEL = 4;

/**
 * A write waiting for its turn (`input`), or another operation's place in the order (none): a
 * group never reaches past it. `answer`: set once a turn has taken the write into its group.
 */
interface Waiting {
  input?: AppendInput;
  answer?: Promise<AppendResult>;
}

/** The head as read from the table: the status item and the latest batch item. */
interface Head extends KnownHead {
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
  readonly #logQuota: LogQuota;
  readonly #clock: () => Date;
  readonly #onClose: (() => Promise<void>) | undefined;
  readonly #afterClaim: DynamoTaskStoreConfig['afterClaim'];
  readonly #turns = new Map<string, Promise<void>>();
  /** Per task, this instance's writes (and token replacements) not yet in a turn, in order. */
  readonly #waiting = new Map<string, Waiting[]>();
  readonly #known: KnownHeads;
  readonly #statusWriteBehindMs: number;
  /** Per task, the latest batch whose status update waits, and the timer that will write it. */
  readonly #behind = new Map<string, { batch: BatchHead; timer: ReturnType<typeof setTimeout> }>();
  /** Status updates under way, awaited by close(). */
  readonly #updating = new Set<Promise<void>>();
  #closed = false;
  readonly #transactions: boolean;
  readonly #packedLines: boolean;

  constructor(config: DynamoTaskStoreConfig) {
    this.#client = config.client;
    this.#table = config.tableName;
    this.#logTtlDays = config.logTtlDays;
    this.#logQuota = config.logQuota ?? DEFAULT_LOG_QUOTA;
    this.#clock = config.clock ?? (() => new Date());
    this.#onClose = config.onClose;
    this.#afterClaim = config.afterClaim;
    // A head is written after for up to WRITE_MAX_AGE_MS; a batch must outlive that (see known-heads.ts).
    if (config.logTtlDays * 86_400_000 <= WRITE_MAX_AGE_MS) {
      throw new Error(`logTtlDays must keep lines longer than ${WRITE_MAX_AGE_MS / 60_000} minutes`);
    }
    this.#statusWriteBehindMs = config.statusWriteBehindMs ?? 0;
    this.#transactions = config.transactions ?? false;
    this.#packedLines = config.packedLines ?? false;
    this.#known = new KnownHeads({
      freshMs: config.headFreshMs ?? DEFAULT_HEAD_FRESH_MS,
      maxTasks: config.knownTasks ?? DEFAULT_KNOWN_TASKS,
      now: config.monotonicNow ?? (() => performance.now()),
    });
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
      const mark = this.#known.mark(id);
      if (!(await this.#claim(item, 'createId', createId))) throw new TaskExistsError(id);
      this.#known.confirm(id, { task, tokenHash, tail: null, usage: NO_USAGE }, mark);
      return task;
    });
  }

  getTask(taskId: string, { forTokenCheck = false } = {}): Promise<StoredTask | null> {
    return this.#guard(async () => {
      const head = await this.#headForRead(taskId, 0, forTokenCheck);
      return head && { task: head.task, tokenHash: head.tokenHash };
    });
  }

  replaceTokenHash(taskId: string, tokenHash: string): Promise<void> {
    // In turn with this instance's writes to the task: none in flight confirms the old hash after,
    // and none that came after it is grouped with one before it (the entry stops a group).
    const barrier: Waiting = {};
    this.#waitingFor(taskId).push(barrier);
    return this.#inTurn(taskId, () =>
      this.#guard(async () => {
        this.#removeWaiting(taskId, barrier);
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
        } finally {
          // The next request reads the new hash (or finds the task gone); a read in flight, which
          // may hold the old one, is not taken after this.
          this.#known.forget(taskId);
        }
      }),
    );
  }

  append(taskId: string, input: AppendInput): Promise<AppendResult> {
    // Writes to one task from this instance take turns: they would only race each other for the
    // same slot, each loss costing DynamoDB requests. Other instances still race, and lose safely.
    // A turn also takes the writes waiting behind it that may share its batch item (group commit,
    // ./group-commit.ts); their own turns then only hand out the answers.
    const entry: Waiting = { input };
    this.#waitingFor(taskId).push(entry);
    return this.#inTurn(taskId, () => entry.answer ?? this.#commitGroup(taskId));
  }

  #waitingFor(taskId: string): Waiting[] {
    let waiting = this.#waiting.get(taskId);
    if (!waiting) this.#waiting.set(taskId, (waiting = []));
    return waiting;
  }

  /** Writes the group at the front of the task's queue; answers its first member. */
  #commitGroup(taskId: string): Promise<AppendResult> {
    const waiting = this.#waiting.get(taskId)!;
    const inputs: AppendInput[] = [];
    for (const entry of waiting) {
      if (!entry.input) break;
      inputs.push(entry.input);
    }
    const members = waiting.splice(0, groupSize(inputs));
    if (waiting.length === 0) this.#waiting.delete(taskId);
    const outcomes = this.#guard(async () => {
      try {
        return await this.#append(taskId, inputs.slice(0, members.length));
      } catch (error) {
        // Failed part-way (the status update, say): the next write reads the true head.
        this.#known.forget(taskId);
        throw error;
      }
    });
    members.forEach((member, index) => {
      member.answer = outcomes.then((all) => {
        const outcome = all[index]!;
        if (outcome instanceof Error) throw outcome;
        return outcome;
      });
      // Each is awaited in its member's own turn, once the first's has settled.
      member.answer.catch(() => {});
    });
    return members[0]!.answer!;
  }

  /**
   * One write of `inputs` (a group: see groupSize), trying slot after slot; an outcome per input.
   * An input with an Idempotency-Key is always alone.
   */
  async #append(taskId: string, inputs: readonly AppendInput[]): Promise<(AppendResult | Error)[]> {
    const pk = taskPk(taskId);
    const { now, idempotency } = inputs[0]!;
    const ttl = ttlFrom(now, this.#logTtlDays);
    const writeId = randomUUID();
    let parts: BatchItem['parts'];
    for (let attempt = 1; attempt <= SLOT_ATTEMPTS_MAX; attempt++) {
      // What this instance knows (its own last write, usually): no read. If another instance wrote
      // since, the conditional put below fails, and the next attempt reads the true head.
      const known = attempt === 1 ? this.#known.forWrite(taskId) : undefined;
      const head = known ? { ...known, lagging: known.lagging ?? null } : await this.#readHead(taskId);
      if (!head) throw new TaskNotFoundError(taskId);

      if (idempotency) {
        // The tail first, then the IDEM item: every batch before the tail has its IDEM item by
        // now (a writer completes the tail before it writes after it), so the two reads together
        // see any earlier write with this key. See README, "Idempotency". With transactions the
        // IDEM item is not read: its put's condition, in the same request as the batch's, finds it.
        const tail = head.tail;
        const earlier =
          tail?.idem?.key === idempotency.key && !isExpired(tail, now)
            ? { fingerprint: tail.idem.fingerprint, task: tail.task, fromSeq: tail.fromSeq }
            : this.#transactions
              ? null
              : await this.#getIdempotency(taskId, idempotency.key, now);
        if (earlier) return [await this.#replay(taskId, head, idempotency, earlier)];
      }
      // A batch may only follow a tail whose IDEM item exists (the writer may have crashed).
      if (head.lagging?.idem) await this.#putIdempotency(taskId, head.lagging);
      await this.#repairIfAbandoned(taskId, head);

      // Checked against the true head; the conditional put below fails if anyone wrote since.
      const { outcomes, write } = applyGroup(taskId, head, inputs, this.#logQuota);
      // A known head behind another instance's writes refuses nothing the true head would allow:
      // phases and the log usage only move forward. What it lets through, the put below catches.
      const answers = outcomes.map((outcome) =>
        outcome instanceof Error ? outcome : { ...outcome, replayed: false },
      );
      if (idempotency && this.#transactions && outcomes[0] instanceof Error) {
        // Refused before any transaction could find the key: a retry of a write that was stored
        // (whose phase the head has passed since, say) is answered as that write, not refused.
        const earlier = await this.#getIdempotency(taskId, idempotency.key, now);
        if (earlier) return [await this.#replay(taskId, head, idempotency, earlier)];
      }
      if (!write) {
        // Nothing to write, so nothing checks the head: answer with it only if it is fresh.
        if (known && !this.#known.forRead(taskId)) {
          this.#known.forget(taskId);
          continue;
        }
        return answers;
      }
      // The counter rides in the batch item: a writer that loses the slot counts again from the
      // winner's total, so concurrent writes cannot overshoot the quota together.
      const { usage } = write;

      const groups = packLines(write.logs.map(toStoredLine), undefined, { packed: this.#packedLines });
      if (groups.length > 1 && parts === undefined) {
        parts = await this.#stageParts(taskId, writeId, groups, ttl);
      }
      const item: BatchItem = {
        pk,
        sk: batchSk(write.fromSeq),
        fromSeq: write.fromSeq,
        toSeq: write.task.seq,
        task: write.task,
        lineCount: write.logs.length,
        packed: groups.length === 1 ? groups[0]!.packed : undefined,
        lines: groups.length === 1 ? groups[0]!.lines : undefined,
        parts,
        idem: idempotency && { key: idempotency.key, fingerprint: idempotency.fingerprint },
        ttl,
        writtenAt: this.#clock().getTime(),
        writeId,
        logLines: usage.lines,
        logBytes: usage.bytes,
      };
      const claimed =
        this.#transactions && item.idem
          ? await this.#claimWithKey(item, writeId)
          : (await this.#claim(item, 'writeId', writeId)) && 'claimed';
      if (claimed === 'key used') {
        // Only the key's condition failed: the slot was free, so the head is true.
        const earlier = await this.#getIdempotency(taskId, idempotency!.key, now);
        if (earlier) return [await this.#replay(taskId, head, idempotency!, earlier)];
        continue; // It expired in between: write.
      }
      if (claimed !== 'claimed') {
        // Another writer took the slot: read the new tail and try the next one.
        this.#known.forget(taskId);
        if (attempt > 2) await sleep(Math.random() * Math.min(50, attempt * 2));
        continue;
      }
      await this.#afterClaim?.(taskId, write.fromSeq);
      if (item.idem && !this.#transactions) await this.#putIdempotency(taskId, item);
      const written = { task: write.task, tokenHash: head.tokenHash, tail: withoutLines(item), usage };
      if (this.#statusWriteBehindMs > 0 && !isTerminal(write.task.phase)) {
        this.#known.wrote(taskId, written);
        this.#updateStatusLater(taskId, written.tail);
        return answers;
      }
      // Updated before the answer: what ends a task is in the status item when the client hears of it.
      this.#cancelStatusUpdate(taskId);
      const mark = this.#known.mark(taskId);
      const tokenHash = await this.#advanceStatus(taskId, item);
      if (tokenHash === null) this.#known.forget(taskId);
      else this.#known.confirm(taskId, { ...written, tokenHash }, mark);
      return answers;
    }
    throw new StoreUnavailableError(`too many concurrent writes to task "${taskId}"; try again`, 1);
  }

  #removeWaiting(taskId: string, entry: Waiting): void {
    const waiting = this.#waiting.get(taskId);
    if (!waiting) return;
    const index = waiting.indexOf(entry);
    if (index >= 0) waiting.splice(index, 1);
    if (waiting.length === 0) this.#waiting.delete(taskId);
  }

  // ---- the status item, written behind ----------------------------------------------------

  /** The status item is to move forward to `batch` within STATUS_WRITE_BEHIND_MS. */
  #updateStatusLater(taskId: string, batch: BatchHead): void {
    const waiting = this.#behind.get(taskId);
    if (waiting) {
      waiting.batch = batch;
      return;
    }
    const timer = setTimeout(() => this.#updateStatusNow(taskId), this.#statusWriteBehindMs);
    // Never what keeps a process alive: close() writes what waits, and a crash loses nothing.
    timer.unref();
    this.#behind.set(taskId, { batch, timer });
  }

  #cancelStatusUpdate(taskId: string): void {
    clearTimeout(this.#behind.get(taskId)?.timer);
    this.#behind.delete(taskId);
  }

  /** Writes the task's waiting status update, if any; resolves when it is done (or failed). */
  #updateStatusNow(taskId: string): Promise<void> {
    const waiting = this.#behind.get(taskId);
    if (!waiting) return Promise.resolve();
    this.#cancelStatusUpdate(taskId);
    const mark = this.#known.mark(taskId);
    const update = this.#advanceStatus(taskId, waiting.batch).then(
      (tokenHash) => {
        if (tokenHash !== null) this.#known.tokenHashAt(taskId, tokenHash, mark);
      },
      () => {
        // The write is in its batch item, which every reader folds in; a later write's update,
        // or a reader once the lag is ABANDONED_AFTER_MS old, moves the status item forward.
      },
    );
    this.#updating.add(update);
    void update.then(() => this.#updating.delete(update));
    return update;
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

  readPage(
    taskId: string,
    { afterSeq, beforeSeq, limit, maxBytes = PAGE_MAX_BYTES, fresh = false }: ReadPageInput,
  ): Promise<TaskStatusPage | null> {
    return this.#guard(async () => {
      // A reader past the head known here has seen a write through another instance: read it.
      const head = await this.#headForRead(taskId, fresh ? Infinity : (afterSeq ?? 0));
      if (!head) return null;
      const task = head.task;
      const now = this.#clock();
      const collector = new PageCollector(limit, maxBytes);
      if (afterSeq !== undefined) {
        await this.#linesForward(taskId, afterSeq, task.seq, collector, now);
        const { lines: logs, more: hasMore } = collector.page();
        const nextAfterSeq = hasMore ? logs[logs.length - 1]!.seq : Math.max(task.seq, afterSeq);
        return { task, logs, nextAfterSeq, hasMore, hasOlder: false };
      }
      const end = beforeSeq === undefined ? task.seq : Math.min(beforeSeq - 1, task.seq);
      await this.#linesBackward(taskId, end, collector, now);
      const { lines, more: hasOlder } = collector.page();
      return { task, logs: lines.reverse(), nextAfterSeq: task.seq, hasMore: false, hasOlder };
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
      const head = await this.#headForRead(pk.slice(taskPk('').length));
      return head?.task ?? null;
    });
  }

  forget(taskId: string): void {
    this.#known.forget(taskId);
  }

  hearFrom(hearing: (taskId: string) => object | undefined): void {
    this.#known.hearFrom(hearing);
  }

  /** A read of a key that never exists (half a read unit): does DynamoDB answer? */
  ping(): Promise<void> {
    return this.#guard(async () => {
      await this.#client.send(
        new GetCommand({
          TableName: this.#table,
          Key: { pk: 'PING', sk: 'PING' },
          ProjectionExpression: 'pk',
        }),
      );
    });
  }

  /** A write seen on the bus (through another instance, maybe): a head older than it is of no use. */
  learn(task: Task): void {
    const known = this.#known.forWrite(task.id);
    // Also with no head known: a read in flight since before this write must not bring back the
    // head it read (a forget marks the moment; what was read before it is not taken).
    if (!known || known.task.seq < task.seq) this.#known.forget(task.id);
  }

  /** Writes every status update waiting now, and waits for those under way. */
  async settle(): Promise<void> {
    await Promise.all([...this.#behind.keys()].map((taskId) => this.#updateStatusNow(taskId)));
    await Promise.all(this.#updating);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Writes still in their turn would leave their status update behind after the settle.
    await Promise.all(this.#turns.values());
    await this.settle();
    this.#client.destroy();
    await this.#onClose?.();
  }

  // ---- reading the head -------------------------------------------------------------------

  /**
   * The head to answer a read with: a fresh known one, or the table's (a crashed writer's tail
   * repaired first), which is then known from the moment the read started.
   */
  async #headForRead(taskId: string, atLeastSeq = 0, forTokenCheck = false): Promise<KnownHead | null> {
    const known = this.#known.forRead(taskId, { tokenHash: forTokenCheck });
    if (known && known.task.seq >= atLeastSeq) return known;
    const mark = this.#known.mark(taskId);
    const head = await this.#readHead(taskId);
    if (!head) return null;
    await this.#repairIfAbandoned(taskId, head);
    const { task, tokenHash, tail, usage, lagging } = head;
    // The status item and the tail usually hold the same task: keep one copy.
    const shared = tail && tail !== lagging && tail.toSeq === task.seq ? { ...tail, task } : tail;
    this.#known.confirm(taskId, { task, tokenHash, tail: shared, usage, lagging }, mark);
    return head;
  }

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
          ProjectionExpression:
            '#sk, #fromSeq, #toSeq, #task, #idem, #ttl, #lineCount, #writtenAt, #logLines, #logBytes',
          ExpressionAttributeNames: {
            '#sk': 'sk',
            '#fromSeq': 'fromSeq',
            '#toSeq': 'toSeq',
            '#task': 'task',
            '#idem': 'idem',
            '#ttl': 'ttl',
            '#lineCount': 'lineCount',
            '#writtenAt': 'writtenAt',
            '#logLines': 'logLines',
            '#logBytes': 'logBytes',
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
    return {
      tokenHash: status.tokenHash,
      tail,
      task: lagging ? lagging.task : taskOfStatusItem(status),
      lagging,
      usage: usageOf(lagging ?? status),
    };
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
    return this.#holds(item, idAttribute, id);
  }

  /** Whether the item at `item`'s key carries our id (it is ours, put by a resent request). */
  async #holds(
    item: { pk: string; sk: string },
    idAttribute: 'createId' | 'writeId',
    id: string,
  ): Promise<boolean> {
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

  /**
   * The answer to a retry of an earlier write with the key: the same body (fingerprint) or a
   * mismatch. The write retried is often the tail its writer could not finish (its status update
   * failed, so the client got a 503 and retried): it is finished before answering, so what the
   * answer says (a task completed, say) is in the status item, not only in a batch with a TTL.
   */
  async #replay(
    taskId: string,
    head: Head,
    idempotency: { key: string; fingerprint: string },
    earlier: Pick<IdempotencyItem, 'fingerprint' | 'task' | 'fromSeq'>,
  ): Promise<AppendResult> {
    if (earlier.fingerprint !== idempotency.fingerprint) throw new IdempotencyMismatchError(idempotency.key);
    if (head.lagging) {
      await this.#putIdempotency(taskId, head.lagging);
      await this.#advanceStatus(taskId, head.lagging);
    }
    return { task: earlier.task, fromSeq: earlier.fromSeq, logs: [], replayed: true };
  }

  /**
   * Puts a keyed write's batch item and its IDEM item in one transaction: the slot must be free
   * and the key unused (or expired). 'key used': an earlier write has the key (the slot was free);
   * 'taken': another writer has the slot (a resent transaction of ours counts as claimed).
   */
  async #claimWithKey(item: BatchItem, writeId: string): Promise<'claimed' | 'taken' | 'key used'> {
    try {
      await this.#client.send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: this.#table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
            { Put: this.#idempotencyPut(item) },
          ],
        }),
      );
      return 'claimed';
    } catch (error) {
      const reasons =
        (error as { name?: string; CancellationReasons?: { Code?: string }[] }).name ===
        'TransactionCanceledException'
          ? ((error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [])
          : null;
      if (!reasons) throw error;
      const [slot, key] = reasons.map((reason) => reason?.Code ?? 'None');
      if (reasons.some((reason) => /Throttl|ProvisionedThroughput/.test(reason?.Code ?? ''))) {
        throw new StoreUnavailableError('DynamoDB is throttling requests (a transaction)', 1, {
          cause: error,
        });
      }
      // A resent transaction of ours finds both items there (DynamoDB answers most resends itself,
      // by the ClientRequestToken the SDK sets, for ten minutes).
      if (slot === 'ConditionalCheckFailed')
        return (await this.#holds(item, 'writeId', writeId)) ? 'claimed' : 'taken';
      if (key === 'ConditionalCheckFailed') return 'key used';
      // TransactionConflict: another transaction on these items was under way; try again.
      return 'taken';
    }
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
    await this.#ignoreConditionFailure(
      new PutCommand(this.#idempotencyPut({ ...batch, pk: taskPk(taskId) })),
    );
  }

  /** The put of a write's IDEM item: where none is, or only an expired one. */
  #idempotencyPut(batch: BatchHead & { pk: string }) {
    const item: IdempotencyItem = {
      pk: batch.pk,
      sk: idempotencySk(batch.idem!.key),
      key: batch.idem!.key,
      fingerprint: batch.idem!.fingerprint,
      fromSeq: batch.fromSeq,
      task: batch.task,
      ttl: batch.ttl,
    };
    return {
      TableName: this.#table,
      Item: item,
      // An expired leftover (dynalite never deletes) may be replaced; a live one is the same write.
      ConditionExpression: 'attribute_not_exists(pk) OR #ttl <= :now',
      ExpressionAttributeNames: { '#ttl': 'ttl' },
      ExpressionAttributeValues: { ':now': Math.floor(this.#clock().getTime() / 1000) },
    };
  }

  /**
   * Moves the status item forward to `batch`. Returns the item's token hash after the update (so a
   * token replaced through another instance is seen by the next write here), or null when the
   * item was already ahead: another writer's batch came after this one.
   */
  async #advanceStatus(taskId: string, batch: BatchHead): Promise<string | null> {
    const { task } = batch;
    const usage = usageOf(batch);
    const out = await this.#ignoreConditionFailure(
      new UpdateCommand({
        TableName: this.#table,
        Key: { pk: taskPk(taskId), sk: STATUS_SK },
        UpdateExpression:
          'SET #phase = :phase, #progress = :progress, #message = :message, #seq = :seq, #updatedAt = :updatedAt, ' +
          '#logLines = :logLines, #logBytes = :logBytes',
        // Only forward: a slower writer must not put back an older head.
        ConditionExpression: 'attribute_exists(pk) AND #seq < :seq',
        ExpressionAttributeNames: {
          '#phase': 'phase',
          '#progress': 'progress',
          '#message': 'message',
          '#seq': 'seq',
          '#updatedAt': 'updatedAt',
          '#logLines': 'logLines',
          '#logBytes': 'logBytes',
        },
        ExpressionAttributeValues: {
          ':phase': task.phase,
          ':progress': task.progress,
          ':message': task.message,
          ':seq': task.seq,
          ':updatedAt': task.updatedAt,
          ':logLines': usage.lines,
          ':logBytes': usage.bytes,
        },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return (out?.Attributes as StatusItem | undefined)?.tokenHash ?? null;
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
    head.lagging = null;
  }

  /**
   * Lines that do not fit one item are written first, under a key of their own, before the batch
   * item claims a slot: the whole write becomes visible at once, and a crash before the claim
   * leaves only unreachable parts (expiring with their TTL).
   */
  async #stageParts(
    taskId: string,
    writeId: string,
    groups: LineGroup[],
    ttl: number,
  ): Promise<NonNullable<BatchItem['parts']>> {
    const pk = taskPk(taskId);
    const items: PartItem[] = groups.map(({ packed, lines }, index) => ({
      pk,
      sk: partSk(writeId, index),
      ...(packed !== undefined ? { packed } : { lines: lines! }),
      ttl,
    }));
    for (let i = 0; i < items.length; i += PART_WRITES_PARALLEL) {
      await Promise.all(
        items
          .slice(i, i + PART_WRITES_PARALLEL)
          .map((Item) => this.#client.send(new PutCommand({ TableName: this.#table, Item }))),
      );
    }
    return { writeId, counts: groups.map(({ count }) => count) };
  }

  /** The command's answer, or undefined when its condition failed. */
  async #ignoreConditionFailure(
    command: PutCommand | UpdateCommand,
  ): Promise<{ Attributes?: Record<string, unknown> } | undefined> {
    try {
      return await this.#client.send(command as PutCommand);
    } catch (error) {
      if (!isConditionalCheckFailed(error)) throw error;
      return undefined;
    }
  }

  // ---- reading lines ----------------------------------------------------------------------

  /** Unexpired lines with seq in (afterSeq, headSeq], in order, until the collector has its page. */
  async #linesForward(
    taskId: string,
    afterSeq: number,
    headSeq: number,
    collector: PageCollector,
    now: Date,
  ): Promise<void> {
    if (afterSeq >= headSeq) return;
    const take = async (batch: BatchItem) => {
      if (isExpired(batch, now)) return;
      const first = Math.max(0, afterSeq + 1 - batch.fromSeq);
      const last = Math.min(batch.lineCount - 1, headSeq - batch.fromSeq);
      if (first <= last) await this.#readLines(taskId, batch, first, last, true, collector);
    };
    // The batch holding afterSeq + 1 may start before it: the latest batch starting at or before it.
    const [containing] = await this.#queryBatches(taskId, 1, afterSeq + 1, false, 1);
    if (containing && containing.toSeq > afterSeq) await take(containing);
    let startKey: Record<string, unknown> | undefined;
    while (collector.wanted > 0 && afterSeq + 2 <= headSeq) {
      const page = await this.#queryBatchPage(
        taskId,
        afterSeq + 2,
        headSeq,
        true,
        collector.wanted,
        startKey,
      );
      for (const batch of page.items) {
        if (collector.wanted === 0) break;
        await take(batch);
      }
      startKey = page.lastKey;
      if (!startKey) break;
    }
  }

  /** Unexpired lines with seq <= endSeq, newest first, until the collector has its page. */
  async #linesBackward(taskId: string, endSeq: number, collector: PageCollector, now: Date): Promise<void> {
    let startKey: Record<string, unknown> | undefined;
    while (collector.wanted > 0 && endSeq >= 1) {
      const page = await this.#queryBatchPage(taskId, 1, endSeq, false, collector.wanted, startKey);
      for (const batch of page.items) {
        if (collector.wanted === 0) break;
        if (isExpired(batch, now)) continue;
        const last = Math.min(batch.lineCount - 1, endSeq - batch.fromSeq);
        if (last >= 0) await this.#readLines(taskId, batch, 0, last, false, collector);
      }
      startKey = page.lastKey;
      if (!startKey) break;
    }
  }

  /**
   * Lines at positions first..last of a batch into the collector, ascending or descending, until
   * it has its page. Parts are fetched one at a time and only while lines are wanted, so a read
   * holds at most one part (< 300 KB) beyond its page, however big the write.
   */
  async #readLines(
    taskId: string,
    batch: BatchItem,
    first: number,
    last: number,
    ascending: boolean,
    collector: PageCollector,
  ): Promise<void> {
    const collect = (lines: readonly StoredLine[], offset: number) => {
      const lo = Math.max(first, offset);
      const hi = Math.min(last, offset + lines.length - 1);
      for (let i = ascending ? lo : hi; i >= lo && i <= hi && collector.wanted > 0; i += ascending ? 1 : -1) {
        collector.add(toLogEntry(lines[i - offset]!, batch.fromSeq + i));
      }
    };
    const inItem = linesOf(batch);
    if (inItem) return collect(inItem, 0);
    if (!batch.parts) throw new Error(`batch ${batch.sk} of task "${taskId}" has neither lines nor parts`);
    const { writeId, counts } = batch.parts;
    const spans: { index: number; offset: number }[] = [];
    let offset = 0;
    counts.forEach((count, index) => {
      if (offset <= last && offset + count - 1 >= first) spans.push({ index, offset });
      offset += count;
    });
    if (!ascending) spans.reverse();
    for (const span of spans) {
      if (collector.wanted === 0) return;
      const { Item } = await this.#client.send(
        new GetCommand({
          TableName: this.#table,
          Key: { pk: taskPk(taskId), sk: partSk(writeId, span.index) },
          ConsistentRead: true,
        }),
      );
      if (!Item) throw new Error(`part ${span.index} of batch ${batch.sk} of task "${taskId}" is missing`);
      const inPart = linesOf(Item as PartItem);
      if (!inPart)
        throw new Error(`part ${span.index} of batch ${batch.sk} of task "${taskId}" holds no lines`);
      collect(inPart, span.offset);
    }
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

/** A batch item as the tail Query would return it: the head part, without its lines. */
function withoutLines({
  sk,
  fromSeq,
  toSeq,
  task,
  idem,
  ttl,
  lineCount,
  writtenAt,
  logLines,
  logBytes,
}: BatchItem): BatchHead {
  return { sk, fromSeq, toSeq, task, idem, ttl, lineCount, writtenAt, logLines, logBytes };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
