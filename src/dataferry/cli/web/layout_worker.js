// The graph layout off the page's main thread (graph.js uses it above 50 nodes):
// the same layout module, its result posted back as a Map.
import { layout } from "/ui/graph.js";

self.onmessage = (e) => self.postMessage(layout(e.data.keys, e.data.edges));
