// edgecore/http: edgetwin's one HTTP server and its routes (docs/http-api.md).
export { addHealthRoutes, type HealthRoutesOptions, type Readiness, type ReadinessCheck } from './health.js';
export { addHistoryRoutes, type HistoryRouteOptions } from './history.js';
export { authenticateHttp, type HttpUser } from './auth.js';
export { Router, type Handler, type Reply, type RouteRequest } from './router.js';
export { HttpServer, errorReply, json, type HttpServerOptions } from './server.js';
