/**
 * The admin API described as OpenAPI 3.1 (served at /api/v1/openapi.json). The schemas are JSON
 * Schema 2020-12 and strict (no unknown properties), and the API tests validate real responses
 * against them, so the document cannot drift from what the server answers.
 */

import { int, object, ref, SCHEMAS, str, type Schema } from './openapi-schemas.js';

const problems = Object.fromEntries(
  [
    ['400', 'Invalid input'],
    ['401', 'No or wrong credentials'],
    ['403', 'Not allowed for this caller or token scope'],
    ['404', 'Not found, or outside the caller\u2019s domains'],
    ['409', 'Exists already, not empty, or over a domain limit'],
    ['429', 'Too many failed logins from this address'],
  ].map(([status, description]) => [
    status,
    { description, content: { 'application/problem+json': { schema: ref('Problem') } } },
  ]),
);

const json = (schema: string, description = 'OK') => ({
  description,
  content: { 'application/json': { schema: ref(schema) } },
});
const body = (schema: Schema) => ({ required: true, content: { 'application/json': { schema } } });
const op = (summary: string, responses: Record<string, unknown>, extra: Schema = {}) => ({
  summary,
  ...extra,
  responses: { ...responses, ...problems },
});
const noContent = { '204': { description: 'Done' } };
const pathParam = (name: string) => ({ name, in: 'path', required: true, schema: str() });
const listParams = [
  { name: 'limit', in: 'query', schema: int({ minimum: 1, maximum: 500 }) },
  { name: 'offset', in: 'query', schema: int() },
  { name: 'q', in: 'query', description: 'Only items whose name contains this', schema: str() },
];
const limitsBody = object(
  {
    maxAccounts: int(),
    maxAliases: int(),
    maxQuotaBytes: { type: ['integer', 'string'] },
    defaultQuotaBytes: { type: ['integer', 'string'] },
  },
  [],
);

const PATHS = {
  '/tokens': {
    get: op('The caller\u2019s API tokens', { '200': json('TokenPage') }, { parameters: listParams }),
    post: op(
      'Make an API token (shown once)',
      { '201': json('TokenCreated', 'Made') },
      {
        requestBody: body(
          object(
            {
              name: str(),
              scopes: { type: 'array', items: { enum: ['read', 'write'] } },
              expires_in_days: int({ minimum: 1, maximum: 366 }),
            },
            ['name'],
          ),
        ),
      },
    ),
  },
  '/tokens/{id}': { parameters: [pathParam('id')], delete: op('Revoke a token', noContent) },
  '/domains': {
    get: op('The caller\u2019s domains', { '200': json('DomainPage') }, { parameters: listParams }),
    post: op(
      'Add a domain (superadmin)',
      { '201': json('Domain', 'Added') },
      {
        requestBody: body({
          ...limitsBody,
          properties: { name: str(), aliasOf: str(), ...(limitsBody.properties as Schema) },
          required: ['name'],
        }),
      },
    ),
  },
  '/domains/{domain}': {
    parameters: [pathParam('domain')],
    get: op('A domain with its counts and limits', { '200': json('Domain') }),
    patch: op(
      'Change a domain\u2019s limits (superadmin)',
      { '200': json('Domain') },
      { requestBody: body(limitsBody) },
    ),
    delete: op('Remove a domain (superadmin; ?force=true with its accounts and mail)', noContent, {
      parameters: [{ name: 'force', in: 'query', schema: { enum: ['true', 'false'] } }],
    }),
  },
  '/domains/{domain}/accounts': {
    parameters: [pathParam('domain')],
    get: op('Accounts of a domain', { '200': json('AccountPage') }, { parameters: listParams }),
    post: op(
      'Add an account',
      { '201': json('Account', 'Added') },
      {
        requestBody: body(
          object({ address: str(), password: str(), quota: { type: ['integer', 'string'] } }, ['address', 'password']),
        ),
      },
    ),
  },
  '/accounts/{address}': {
    parameters: [pathParam('address')],
    get: op('An account', { '200': json('Account') }),
    patch: op(
      'Change password, quota or enabled',
      { '200': json('Account') },
      {
        requestBody: body(
          object({ password: str(), quota: { type: ['integer', 'string'] }, enabled: { type: 'boolean' } }, []),
        ),
      },
    ),
    delete: op('Remove an account with its mail', noContent),
  },
  '/domains/{domain}/aliases': {
    parameters: [pathParam('domain')],
    get: op('Aliases of a domain (a catch-all is "@domain")', { '200': json('AliasPage') }, { parameters: listParams }),
    post: op('Add an alias', { '201': json('Alias', 'Added') }, { requestBody: body(ref('Alias')) }),
  },
  '/aliases/{source}': {
    parameters: [pathParam('source')],
    get: op('An alias', { '200': json('Alias') }),
    put: op(
      'Set an alias\u2019s destinations',
      { '200': json('Alias') },
      {
        requestBody: body(object({ destinations: { type: 'array', items: str() } })),
      },
    ),
    delete: op('Remove an alias', noContent),
  },
  '/admins': {
    get: op('Admins (superadmin)', { '200': json('AdminPage') }, { parameters: listParams }),
    post: op(
      'Add an admin (superadmin)',
      { '201': json('Admin', 'Added') },
      {
        requestBody: body(
          object(
            {
              address: str(),
              password: str(),
              role: { enum: ['superadmin', 'domain'] },
              domains: { type: 'array', items: str() },
            },
            ['address', 'password', 'role'],
          ),
        ),
      },
    ),
  },
  '/admins/{address}': { parameters: [pathParam('address')], delete: op('Remove an admin (superadmin)', noContent) },
  '/domains/{domain}/dkim': {
    parameters: [pathParam('domain')],
    get: op('DKIM keys of a domain, with the TXT record each needs', { '200': json('DkimList') }),
  },
  '/domains/{domain}/dkim/rotate': {
    parameters: [pathParam('domain')],
    post: op(
      'Rotate: a new key, signing once DNS shows it (or at once with now)',
      { '201': json('DkimKey', 'Made') },
      {
        requestBody: {
          required: false,
          content: {
            'application/json': {
              schema: object({ now: { type: 'boolean' }, algorithm: { enum: ['rsa2048', 'rsa4096', 'ed25519'] } }, []),
            },
          },
        },
      },
    ),
  },
  '/domains/{domain}/dns': {
    parameters: [pathParam('domain')],
    get: op('The DNS records to publish for a domain', { '200': json('DnsList') }),
  },
  '/domains/{domain}/doctor': {
    parameters: [pathParam('domain')],
    get: op('What is wrong with the domain\u2019s DNS, each with its fix', { '200': json('Doctor') }),
  },
  '/queue': { get: op('The outbound queue (superadmin)', { '200': json('QueuePage') }, { parameters: listParams }) },
  '/queue/{id}': {
    parameters: [pathParam('id')],
    get: op('A queue entry (superadmin)', { '200': json('QueueEntry') }),
    delete: op('Delete a queue entry without a bounce (superadmin)', noContent),
  },
  ...Object.fromEntries(
    (['retry', 'hold', 'release'] as const).map((action) => [
      `/queue/{id}/${action}`,
      {
        parameters: [pathParam('id')],
        post: op({ retry: 'Due now', hold: 'Keep from delivery', release: 'Let go again' }[action] + ' (superadmin)', {
          '200': json('QueueEntry'),
        }),
      },
    ]),
  ),
  '/session': {
    post: op(
      'Log in to a browser session (sets the HttpOnly cookie)',
      { '201': json('Session', 'Logged in') },
      {
        security: [],
        requestBody: body(object({ address: str(), password: str(), totp: str() }, ['address', 'password'])),
      },
    ),
    get: op('The current session and its CSRF token', { '200': json('Session') }),
    delete: op('Log out (needs X-CSRF-Token)', noContent),
  },
  '/totp': {
    post: op('Start two-factor enrolment: a new secret, on once confirmed', { '201': json('TotpStart', 'Started') }),
    delete: op('Turn two-factor login off (a current code)', noContent, {
      requestBody: body(object({ code: str() })),
    }),
  },
  '/totp/confirm': {
    post: op('Confirm enrolment with a code of the new secret', noContent, {
      requestBody: body(object({ code: str() })),
    }),
  },
  '/quarantine': {
    get: op(
      'Mail the content filter held (a domain admin sees their domains\u2019)',
      { '200': json('HeldList') },
      {
        parameters: [
          { name: 'domain', in: 'query', schema: str() },
          { name: 'limit', in: 'query', schema: int({ minimum: 1, maximum: 500 }) },
        ],
      },
    ),
  },
  '/quarantine/{id}': {
    parameters: [pathParam('id')],
    get: op('A held message with its text (up to 256 KB)', { '200': json('HeldMessage') }),
    delete: op('Delete a held message', noContent),
  },
  '/quarantine/{id}/release': {
    parameters: [pathParam('id')],
    post: op('Deliver a held message to its recipient now', noContent),
  },
  '/me': { get: op('The account of the caller (its own address and password)', { '200': json('Me') }) },
  '/me/password': {
    put: op('Change the own password (the current one asked again)', noContent, {
      requestBody: body(object({ current: str(), password: str() })),
    }),
  },
  '/doctor': {
    get: op("The doctor's last DNS findings per domain the caller sees, errors first", {
      '200': json('DoctorStatus'),
    }),
    post: op('Check every domain the caller sees now, in the background', {
      '202': json('DoctorStatus', 'Started'),
    }),
  },
  '/me/rules': {
    get: op('The own mail rules: filters, forwarding, vacation reply (kept as a Sieve script)', {
      '200': json('MailRules'),
    }),
  },
  '/me/vacation': {
    put: op(
      'Set the vacation reply; saving activates the rules',
      { '200': json('MailRules') },
      {
        requestBody: body(ref('Vacation')),
      },
    ),
  },
  '/me/forwarding': {
    put: op(
      'Set forwarding (at most 4 addresses); saving activates the rules',
      { '200': json('MailRules') },
      {
        requestBody: body(ref('Forwarding')),
      },
    ),
  },
  '/me/filters': {
    put: op(
      'Replace the filters, in order; saving activates the rules',
      { '200': json('MailRules') },
      {
        requestBody: body(object({ filters: { type: 'array', items: ref('Filter') } })),
      },
    ),
  },
  '/me/app-passwords': {
    get: op('The own app passwords (never their text)', { '200': json('AppPasswordList') }),
    post: op(
      'Make an app password for a mail client (shown once)',
      { '201': json('AppPasswordCreated', 'Made') },
      {
        requestBody: body(object({ name: str() })),
      },
    ),
  },
  '/me/app-passwords/{id}': {
    parameters: [pathParam('id')],
    delete: op('Revoke an app password', noContent),
  },
  '/certificates': {
    get: op('Certificates served, with days left (a domain admin sees those naming their domains)', {
      '200': json('CertificateList'),
    }),
  },
  '/logs': {
    get: op(
      'The newest log lines containing every word of q (a connection id, an address, a queue id); superadmin',
      { '200': json('LogList') },
      {
        parameters: [
          { name: 'q', in: 'query', schema: str() },
          { name: 'limit', in: 'query', schema: int({ minimum: 1, maximum: 1000 }) },
        ],
      },
    ),
  },
  '/stats': {
    get: op(
      'Messages received, refused, spam, sent, bounced and deferred, and the queue: 24 hours by hour, 30 days by day',
      {
        '200': json('Stats'),
      },
    ),
  },
  '/status': { get: op('The server\u2019s name, uptime and counts', { '200': json('Status') }) },
  '/audit': {
    get: op(
      'The audit log, newest first (a domain admin sees their domains\u2019 entries)',
      {
        '200': {
          description: 'OK',
          content: {
            'application/json': { schema: ref('AuditPage') },
            'text/csv': { schema: str({ description: 'One quoted row per entry, newest first' }) },
          },
        },
      },
      {
        parameters: [
          { name: 'limit', in: 'query', schema: int({ minimum: 1, maximum: 10000 }) },
          { name: 'before', in: 'query', description: 'Entries older than this id', schema: int() },
          {
            name: 'format',
            in: 'query',
            description: 'csv: export as text/csv (up to 10,000 entries)',
            schema: { enum: ['json', 'csv'] },
          },
        ],
      },
    ),
  },
};

export function openApiDocument(hostname: string): Schema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Postern admin API',
      version: '1',
      description:
        'Domains, accounts, aliases, admins, API tokens and the audit log. Errors are RFC 9457 problem details with a stable code.',
    },
    servers: [{ url: `https://${hostname}/api/v1` }],
    security: [{ basic: [] }, { bearer: [] }, { session: [] }],
    components: {
      securitySchemes: {
        basic: { type: 'http', scheme: 'basic', description: 'An admin\u2019s address and password' },
        bearer: { type: 'http', scheme: 'bearer', description: 'A token from POST /tokens' },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: 'postern_admin',
          description: 'The admin UI session from POST /session; changes also need X-CSRF-Token',
        },
      },
      schemas: SCHEMAS,
    },
    paths: PATHS,
  };
}
