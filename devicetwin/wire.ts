// The KubeEdge wire types live in wire/ (where mappers may import them); devicetwin's own files keep this path.
export type * from '../wire/index.js';
