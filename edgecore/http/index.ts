// edgecore/http: edgetwin's one HTTP server and its routes (docs/http-api.md).
export { addHealthRoutes, type HealthRoutesOptions, type Readiness, type ReadinessCheck } from './health.js';
export { addHistoryRoutes, type HistoryRouteOptions } from './history.js';
export { authenticateHttp, type HttpUser } from './auth.js';
export { Router, type Handler, type Reply, type RouteRequest } from './router.js';
export { HttpServer, errorReply, json, type HttpServerOptions } from './server.js';
export { Sessions, addSessionRoutes, SESSION_COOKIE, CSRF_HEADER, type Caller } from './session.js';
export { TwinFeed, describeChange, type ConsoleEvent, type FeedChange } from './twin-feed.js';
export { addDeviceRoutes, summarize, type DeviceSummary, type MapperStatus } from './devices.js';
export { addNodeRoutes, type NodeSources, type SinkStatus } from './node.js';
export { ConsoleSockets, WS_PATH } from './ws.js';
export { consoleDir, staticHandler } from './static.js';
