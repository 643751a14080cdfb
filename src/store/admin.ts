/** The Store's administration records and repositories: admins, API tokens, the audit log. */

/** Who manages what: a superadmin everything, a domain admin the domains granted. */
export interface AdminRecord {
  address: string;
  passwordHash: string;
  isSuper: boolean;
  domains: string[];
  /** RFC 6238 secret (base32) once two-factor login is on; the one being enrolled until confirmed. */
  totpSecret: string | null;
  totpPending: string | null;
  createdAt: Date;
}

export interface AdminRepo {
  /** ALREADY_EXISTS for a taken address; DOMAIN_NOT_FOUND for a domain not hosted. */
  add(admin: { address: string; passwordHash: string; isSuper: boolean; domains: string[] }): Promise<AdminRecord>;
  get(address: string): Promise<AdminRecord | undefined>;
  list(): Promise<AdminRecord[]>;
  /** Removes the admin and their API tokens. */
  remove(address: string): Promise<boolean>;
  setPassword(address: string, passwordHash: string): Promise<boolean>;
  setTotp(address: string, totp: { secret: string | null; pending: string | null }): Promise<boolean>;
}

/** A browser session of an admin: the cookie's id, a hash of its secret, and its CSRF token. */
export interface AdminSessionRecord {
  id: string;
  secretHash: string;
  admin: string;
  csrf: string;
  createdAt: Date;
  expiresAt: Date;
}

export interface AdminSessionRepo {
  add(session: AdminSessionRecord): Promise<void>;
  get(id: string): Promise<AdminSessionRecord | undefined>;
  remove(id: string): Promise<boolean>;
  /** Drops sessions past their expiry; returns how many. */
  removeExpired(now: Date): Promise<number>;
}

/**
 * A webmail session of an account: the cookie's id, a hash of its secret, its CSRF token; it ends at
 * `expiresAt` or when unused since `idleUntil`.
 */
export interface MailSessionRecord {
  id: string;
  secretHash: string;
  accountId: number;
  csrf: string;
  createdAt: Date;
  expiresAt: Date;
  idleUntil: Date;
  /** Signed in with the account's own password, not an app password: may change the account's settings (/me). */
  settings: boolean;
}

export interface MailSessionRepo {
  add(session: MailSessionRecord): Promise<void>;
  get(id: string): Promise<MailSessionRecord | undefined>;
  /** Moves a session's idle end on (used again). */
  touch(id: string, idleUntil: Date): Promise<void>;
  remove(id: string): Promise<boolean>;
  /** Ends every session of an account ("sign out everywhere"); returns how many. */
  removeAccount(accountId: number): Promise<number>;
  /** Drops sessions past their expiry or idle end; returns how many. */
  removeExpired(now: Date): Promise<number>;
}

/** An API token: `id` is its public half, the secret half is kept only as a hash. */
export interface ApiTokenRecord {
  id: string;
  secretHash: string;
  admin: string;
  name: string;
  scopes: string[];
  expiresAt: Date | null;
  createdAt: Date;
}

export interface ApiTokenRepo {
  add(token: ApiTokenRecord): Promise<void>;
  get(id: string): Promise<ApiTokenRecord | undefined>;
  list(admin: string): Promise<ApiTokenRecord[]>;
  remove(id: string): Promise<boolean>;
}

/** One change made by someone: who, through what and from where, what, and the state before and after. */
export interface AuditEntry {
  id: number;
  at: Date;
  actor: string;
  /** 'cli', 'api' … */
  via: string;
  remote: string | null;
  action: string;
  target: string;
  /** The domain the change belongs to, for domain admins' view of the log. */
  domain: string | null;
  before: unknown;
  after: unknown;
}

export interface AuditRepo {
  add(entry: Omit<AuditEntry, 'id' | 'at'>): Promise<AuditEntry>;
  /** Newest first; `domains` keeps the entries of those domains only; `before` pages by id. */
  list(query: { domains?: string[]; before?: number; limit: number }): Promise<AuditEntry[]>;
}

/** A password for one mail client, made by the server (random), kept as a SHA-256 only. */
export interface AppPasswordRecord {
  id: number;
  accountId: number;
  name: string;
  createdAt: Date;
}

export interface AppPasswordRepo {
  add(accountId: number, name: string, secretHash: string): Promise<AppPasswordRecord>;
  list(accountId: number): Promise<AppPasswordRecord[]>;
  remove(accountId: number, id: number): Promise<boolean>;
  /** The app password of the account with this hash, if any. */
  find(accountId: number, secretHash: string): Promise<AppPasswordRecord | undefined>;
  /** An app password by its id, whoever's it is (a bearer token names it): its hash to compare. */
  byId(id: number): Promise<(AppPasswordRecord & { secretHash: string }) | undefined>;
}

/** Hourly counters (messages in, out, refused …) and gauges (queue size) for the dashboard. */
export interface MetricPoint {
  /** Hours since the Unix epoch (UTC). */
  hour: number;
  name: string;
  value: number;
}

export interface MetricsRepo {
  /** Adds counters to their hour's value; a gauge (`set`) replaces it. */
  record(points: { add: MetricPoint[]; set: MetricPoint[] }): Promise<void>;
  /** The points of hours from `fromHour` to `toHour` (inclusive). */
  range(fromHour: number, toHour: number): Promise<MetricPoint[]>;
  /** Drops hours before `beforeHour`; returns how many points. */
  prune(beforeHour: number): Promise<number>;
}
