/** The admin API's JSON Schemas (2020-12, strict: no unknown properties), for openapi.ts. */

export type Schema = Record<string, unknown>;

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
export const str = (extra: Schema = {}): Schema => ({ type: 'string', ...extra });
export const int = (extra: Schema = {}): Schema => ({ type: 'integer', minimum: 0, ...extra });
export const object = (properties: Record<string, Schema>, required = Object.keys(properties)): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const pageOf = (item: string): Schema =>
  object({ items: { type: 'array', items: ref(item) }, total: int(), limit: int(), offset: int() });
const dateTime = str({ format: 'date-time' });

export const SCHEMAS: Record<string, Schema> = {
  Problem: object(
    {
      type: str(),
      title: str(),
      status: int(),
      code: str({ description: 'Stable error code, e.g. domain_not_found, forbidden, limit_reached' }),
      detail: str({ description: 'What went wrong and what to fix' }),
    },
    ['type', 'title', 'status', 'code', 'detail'],
  ),
  DomainLimits: object({
    maxAccounts: int({ description: '0 = no limit' }),
    maxAliases: int({ description: '0 = no limit' }),
    maxQuotaBytes: int({ description: 'The most the account quotas may add up to; 0 = no limit' }),
    defaultQuotaBytes: int({ description: 'Quota of an account created without one' }),
  }),
  Domain: object({
    name: str(),
    aliasOf: { type: ['string', 'null'] },
    limits: ref('DomainLimits'),
    accounts: int(),
    aliases: int(),
    quotaTotal: int(),
    createdAt: dateTime,
  }),
  Account: object({
    address: str({ format: 'email' }),
    quotaBytes: int(),
    usedBytes: int(),
    enabled: { type: 'boolean' },
    createdAt: dateTime,
  }),
  Alias: object({ source: str(), destinations: { type: 'array', items: str({ format: 'email' }) } }),
  Admin: object({
    address: str({ format: 'email' }),
    role: { enum: ['superadmin', 'domain'] },
    domains: { type: 'array', items: str() },
    createdAt: dateTime,
  }),
  Token: object({
    id: str(),
    name: str(),
    scopes: { type: 'array', items: { enum: ['read', 'write'] } },
    expires_at: { type: ['string', 'null'], format: 'date-time' },
    created_at: dateTime,
  }),
  AuditEntry: object({
    id: int(),
    at: dateTime,
    actor: str(),
    via: str(),
    remote: { type: ['string', 'null'] },
    action: str(),
    target: str(),
    domain: { type: ['string', 'null'] },
    before: {},
    after: {},
  }),
  DkimKey: object({
    selector: str(),
    algorithm: { enum: ['rsa2048', 'rsa4096', 'ed25519'] },
    status: { enum: ['active', 'pending', 'retired'] },
    name: str({ description: 'The DNS name of its TXT record' }),
    txt: str({ description: 'The TXT record to publish' }),
    createdAt: dateTime,
  }),
  DnsRecord: object({
    name: str(),
    type: { enum: ['A', 'AAAA', 'MX', 'TXT', 'SRV', 'PTR'] },
    value: str(),
    note: str(),
  }),
  QueueEntry: object({
    id: str(),
    sender: str({ description: 'Empty for a bounce' }),
    size: int(),
    held: { type: 'boolean' },
    createdAt: dateTime,
    recipients: {
      type: 'array',
      items: object({ recipient: str(), status: str(), attempts: int(), lastError: { type: ['string', 'null'] } }),
    },
  }),
  Status: object({
    hostname: str(),
    uptimeSeconds: int(),
    domains: int(),
    accounts: int(),
    queue: object({ entries: int(), held: int() }),
    schemaVersion: int(),
  }),
  Session: object({
    admin: str({ format: 'email' }),
    role: { enum: ['superadmin', 'domain'] },
    domains: { type: 'array', items: str() },
    totp: { type: 'boolean' },
    csrf: str({ description: 'Send it back in X-CSRF-Token with every request that changes something' }),
    expiresAt: dateTime,
  }),
  TotpStart: object({ secret: str({ description: 'Base32' }), uri: str({ description: 'otpauth:// URI to scan' }) }),
  Held: object({
    id: int(),
    recipient: str(),
    mailFrom: str(),
    subject: str(),
    reason: str(),
    score: { type: ['number', 'null'] },
    size: int(),
    createdAt: dateTime,
    expiresAt: dateTime,
  }),
  Series: object({
    start: dateTime,
    values: object(
      Object.fromEntries(
        ['received', 'rejected', 'spam', 'sent', 'bounced', 'deferred', 'queue'].map((n) => [
          n,
          { type: 'array', items: int() },
        ]),
      ),
    ),
  }),
  Finding: object(
    {
      id: str({ description: 'Stable, e.g. spf.missing' }),
      severity: { enum: ['error', 'warning', 'info'] },
      scope: str(),
      summary: str(),
      why: str(),
      observed: str(),
      expected: str(),
      fix: str(),
    },
    ['id', 'severity', 'scope', 'summary'],
  ),
  Certificate: object({
    names: { type: 'array', items: str() },
    issuer: str(),
    source: str(),
    notAfter: dateTime,
    daysLeft: { type: 'integer' },
  }),
  Me: object({ address: str({ format: 'email' }), quotaBytes: int(), usedBytes: int(), appPasswords: int() }),
  AppPassword: object({ id: int(), name: str(), createdAt: dateTime }),
  AppPasswordCreated: object({
    id: int(),
    name: str(),
    createdAt: dateTime,
    password: str({ description: 'Shown once: give it to the mail client' }),
    token: str({ description: 'The same app password as an HTTP bearer token (JMAP), shown once' }),
  }),
};
SCHEMAS.TokenCreated = {
  ...(SCHEMAS.Token as Schema),
  properties: { ...((SCHEMAS.Token as Schema).properties as Schema), token: str({ description: 'Shown once' }) },
  required: [...((SCHEMAS.Token as Schema).required as string[]), 'token'],
};
SCHEMAS.DomainPage = pageOf('Domain');
SCHEMAS.AccountPage = pageOf('Account');
SCHEMAS.AliasPage = pageOf('Alias');
SCHEMAS.AdminPage = pageOf('Admin');
SCHEMAS.TokenPage = pageOf('Token');
SCHEMAS.QueuePage = pageOf('QueueEntry');
SCHEMAS.DkimList = object({ items: { type: 'array', items: ref('DkimKey') } });
SCHEMAS.DnsList = object({ items: { type: 'array', items: ref('DnsRecord') } });
const bool: Schema = { type: 'boolean' };
const strings: Schema = { type: 'array', items: str() };
SCHEMAS.Vacation = object(
  {
    enabled: bool,
    subject: str(),
    body: str(),
    days: int({ minimum: 1, maximum: 30, description: 'One reply per sender in this many days' }),
    addresses: { ...strings, description: 'Other addresses of the account the reply is sent for' },
    fromDate: {
      type: ['string', 'null'],
      format: 'date-time',
      description: 'Mail arriving from then gets the reply (UTC, "2026-12-24T00:00:00Z"); null: already',
    },
    toDate: {
      type: ['string', 'null'],
      format: 'date-time',
      description: 'Mail arriving from then gets none; null: no end',
    },
    html: { ...str(), description: 'The reply as HTML too ("" for none); left out of a PUT, it stays as it was' },
  },
  ['enabled', 'subject', 'body', 'days', 'addresses'],
);
SCHEMAS.Forwarding = object({
  enabled: bool,
  to: { ...strings, maxItems: 4 },
  keepCopy: { ...bool, description: 'Keep a copy in this account too' },
});
SCHEMAS.FilterCondition = object(
  {
    field: str({ enum: ['from', 'to', 'cc', 'subject', 'list-id', 'header', 'size', 'body'] }),
    header: str({ description: 'The header field, when field is "header"' }),
    op: str({ enum: ['contains', 'notcontains', 'is', 'notis', 'matches', 'notmatches', 'over', 'under'] }),
    value: str({ description: 'Text, * and ? wildcards for matches; bytes for a size' }),
  },
  ['field', 'op', 'value'],
);
SCHEMAS.FilterAction = object(
  {
    type: str({ enum: ['fileinto', 'redirect', 'flag', 'reject', 'discard', 'stop'] }),
    mailbox: str(),
    to: str(),
    copy: bool,
    flag: str({ enum: ['seen', 'flagged'] }),
    reason: str(),
  },
  ['type'],
);
SCHEMAS.Filter = object({
  name: str(),
  enabled: bool,
  match: str({ enum: ['all', 'any'] }),
  conditions: { type: 'array', items: ref('FilterCondition') },
  actions: { type: 'array', items: ref('FilterAction') },
});
SCHEMAS.MailRules = object({
  filters: { type: 'array', items: ref('Filter') },
  forwarding: ref('Forwarding'),
  vacation: ref('Vacation'),
  active: { ...bool, description: 'Delivery follows these rules (their Sieve script is the active one)' },
  activeScript: { type: ['string', 'null'], description: 'Another active Sieve script, replaced on saving' },
});
const counts = object({ error: int(), warning: int(), info: int() });
SCHEMAS.DomainHealth = object({
  domain: str(),
  checkedAt: { type: ['string', 'null'], format: 'date-time' },
  counts: { anyOf: [counts, { type: 'null' }] },
  worst: { type: ['string', 'null'], description: 'The first error (else warning) found' },
  failed: { type: ['string', 'null'], description: 'Why the check could not run' },
});
SCHEMAS.DoctorStatus = object({
  running: { type: 'boolean', description: 'A check of every domain is under way' },
  items: { type: 'array', items: ref('DomainHealth') },
});
SCHEMAS.AppPasswordList = object({ items: { type: 'array', items: ref('AppPassword') } });
SCHEMAS.HeldList = object({ items: { type: 'array', items: ref('Held') } });
SCHEMAS.HeldMessage = {
  ...(SCHEMAS.Held as Schema),
  properties: { ...((SCHEMAS.Held as Schema).properties as Schema), content: str(), truncated: { type: 'boolean' } },
  required: [...((SCHEMAS.Held as Schema).required as string[]), 'content', 'truncated'],
};
SCHEMAS.Stats = object({ hours: ref('Series'), days: ref('Series') });
SCHEMAS.Doctor = object({
  findings: { type: 'array', items: ref('Finding') },
  counts: object({ error: int(), warning: int(), info: int() }),
});
SCHEMAS.CertificateList = object({ items: { type: 'array', items: ref('Certificate') } });
SCHEMAS.LogList = object({
  items: { type: 'array', items: { type: 'object', description: 'A log record as the server wrote it' } },
});
SCHEMAS.AuditPage = object({ items: { type: 'array', items: ref('AuditEntry') }, next: { type: ['integer', 'null'] } });
