// eventbus/auth: who may connect to the embedded broker (users file, TLS client certificates,
// anonymous by rule) and what each role may publish, subscribe and change (docs/security.md).
export { BrokerAuth, type AnonymousAccess, type AuthStats, type AuthorizableBus, type BrokerAuthOptions } from './auth.js';
export { checkHistoryRead, checkPublish, checkSubscribe, inScope, TWIN_CHANGES, type AclContext, type DeviceRegistry, type TwinChangeKind } from './acl.js';
export { isLoopback, type Authenticator, type ClosedClient, type ConnectingClient } from './identity.js';
export { DEFAULT_SCRYPT_COST, hashPassword, parsePasswordHash, verifyPassword, type ScryptCost } from './password.js';
export { loadTlsOptions, type ClientCertificates, type TlsFiles } from './tls.js';
export { mosquittoAcl, type MosquittoAcl, type MosquittoAclInput } from './mosquitto-acl.js';
export { ROLES, UsersFile, checkUserEntry, deleteUser, isValidUserName, listUsers, parseUsers, writeUser, type Principal, type Role, type UserEntry } from './users.js';
