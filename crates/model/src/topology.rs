//! The data-centre network as a graph: hosts, switches or sites, and links with bandwidth and latency.
//!
//! Migrations and VNF traffic share these links, so the simulator asks the topology for the path
//! between two hosts and charges bandwidth on every link of it.

use crate::error::ModelError;
use petgraph::graph::{EdgeIndex, NodeIndex, UnGraph};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// What a node of the network graph stands for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NodeKind {
    /// A physical host (its index in the scenario's host list).
    Host(usize),
    /// A top-of-rack (leaf) switch.
    Leaf(u32),
    /// A spine switch.
    Spine(u32),
    /// A site of a wide-area topology (Topology Zoo), holding several hosts.
    Site { name: String },
}

/// One link: capacity and one-way propagation latency.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinkSpec {
    /// Capacity in bits per second (each direction).
    pub bandwidth_bps: f64,
    /// One-way latency in milliseconds.
    pub latency_ms: f64,
}

/// The network graph plus the host attachments.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Undirected graph; edge weights are links.
    pub graph: UnGraph<NodeKind, LinkSpec>,
    /// Graph node of each host, indexed by host number.
    pub host_nodes: Vec<NodeIndex>,
    /// Rack (leaf) or site number of each host.
    pub host_rack: Vec<u32>,
    /// Name of each host, used in reports.
    pub host_names: Vec<String>,
    /// What was adapted while importing (sites left out because no link reaches them), for the
    /// user to read next to the results.
    pub notes: Vec<String>,
}

/// Speed of light in fibre, for latency from distance: about 5 microseconds per km.
const FIBRE_MS_PER_KM: f64 = 0.005;
/// Latency of a host's access link and of a switch hop inside a data centre.
const INTRA_DC_LATENCY_MS: f64 = 0.005;
/// Capacity assumed for a wide-area link whose speed the Zoo does not record.
const DEFAULT_WAN_BPS: f64 = 10e9;
/// Latency assumed for a wide-area link whose endpoints have no coordinates.
const DEFAULT_WAN_LATENCY_MS: f64 = 1.0;

impl Topology {
    /// A two-tier leaf-spine fabric: `racks` leaves of `hosts_per_rack` hosts, every leaf wired to
    /// every spine. This is the shape of nearly every modern NFV point of presence.
    pub fn leaf_spine(
        racks: u32,
        hosts_per_rack: u32,
        spines: u32,
        host_nic_bps: f64,
        fabric_bps: f64,
    ) -> Self {
        let mut graph = UnGraph::new_undirected();
        let spine_nodes: Vec<_> = (0..spines.max(1))
            .map(|s| graph.add_node(NodeKind::Spine(s)))
            .collect();
        let mut host_nodes = Vec::new();
        let mut host_rack = Vec::new();
        let mut host_names = Vec::new();
        for r in 0..racks {
            let leaf = graph.add_node(NodeKind::Leaf(r));
            for &s in &spine_nodes {
                graph.add_edge(
                    leaf,
                    s,
                    LinkSpec {
                        bandwidth_bps: fabric_bps,
                        latency_ms: INTRA_DC_LATENCY_MS,
                    },
                );
            }
            for h in 0..hosts_per_rack {
                let idx = host_nodes.len();
                let node = graph.add_node(NodeKind::Host(idx));
                graph.add_edge(
                    node,
                    leaf,
                    LinkSpec {
                        bandwidth_bps: host_nic_bps,
                        latency_ms: INTRA_DC_LATENCY_MS,
                    },
                );
                host_nodes.push(node);
                host_rack.push(r);
                host_names.push(format!("rack{r}-h{h:02}"));
            }
        }
        Topology {
            graph,
            host_nodes,
            host_rack,
            host_names,
            notes: Vec::new(),
        }
    }

    /// Every host on one switch: CloudSim's implicit network, where only host bandwidth matters.
    pub fn single_switch(hosts: usize, host_nic_bps: f64) -> Self {
        let mut t = Topology::leaf_spine(1, hosts as u32, 1, host_nic_bps, f64::INFINITY);
        for (i, name) in t.host_names.iter_mut().enumerate() {
            *name = format!("host{i}");
        }
        t
    }

    /// Imports a Topology Zoo GraphML file; each site gets `hosts_per_site` hosts on access links.
    /// Link capacity comes from `LinkSpeedRaw` where present; latency from the great-circle distance
    /// between the sites' coordinates, or a default when a site has none.
    pub fn from_graphml(
        path: &Path,
        hosts_per_site: u32,
        host_nic_bps: f64,
    ) -> Result<Self, ModelError> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let doc = roxmltree::Document::parse(&text)
            .map_err(|e| ModelError::parse(path, e.pos().row as usize, "graphml", e.to_string()))?;
        let line_of = |n: roxmltree::Node| doc.text_pos_at(n.range().start).row as usize;
        // Map attribute names to the GraphML key ids this file uses.
        let mut key_ids = std::collections::BTreeMap::new();
        for k in doc.descendants().filter(|n| n.has_tag_name("key")) {
            if let (Some(id), Some(name), Some(dom)) = (
                k.attribute("id"),
                k.attribute("attr.name"),
                k.attribute("for"),
            ) {
                key_ids.insert((dom.to_string(), name.to_string()), id.to_string());
            }
        }
        let key =
            |dom: &str, name: &str| key_ids.get(&(dom.to_string(), name.to_string())).cloned();
        let (k_lat, k_lon, k_label, k_speed) = (
            key("node", "Latitude"),
            key("node", "Longitude"),
            key("node", "label"),
            key("edge", "LinkSpeedRaw"),
        );
        let data_of = |n: roxmltree::Node, k: &Option<String>| -> Option<String> {
            let k = k.as_ref()?;
            n.children()
                .find(|c| c.has_tag_name("data") && c.attribute("key") == Some(k.as_str()))
                .and_then(|c| c.text().map(|s| s.trim().to_string()))
        };
        let mut graph = UnGraph::new_undirected();
        let mut by_id = std::collections::BTreeMap::new();
        let mut coords = Vec::new();
        for n in doc.descendants().filter(|n| n.has_tag_name("node")) {
            let id = n
                .attribute("id")
                .ok_or_else(|| ModelError::parse(path, line_of(n), "node.id", "missing"))?;
            let name = data_of(n, &k_label).unwrap_or_else(|| id.to_string());
            let parse_f = |v: Option<String>, field: &str| -> Result<Option<f64>, ModelError> {
                match v {
                    None => Ok(None),
                    Some(s) => s.parse::<f64>().map(Some).map_err(|_| {
                        ModelError::parse(path, line_of(n), field, format!("not a number: {s:?}"))
                    }),
                }
            };
            let lat = parse_f(data_of(n, &k_lat), "Latitude")?.filter(|v| v.is_finite());
            let lon = parse_f(data_of(n, &k_lon), "Longitude")?.filter(|v| v.is_finite());
            if by_id.contains_key(id) {
                return Err(ModelError::parse(
                    path,
                    line_of(n),
                    "node.id",
                    format!("duplicate node id {:?}", crate::error::excerpt(id)),
                ));
            }
            let idx = graph.add_node(NodeKind::Site { name });
            by_id.insert(id.to_string(), idx);
            coords.push(lat.zip(lon));
        }
        if by_id.is_empty() {
            return Err(ModelError::invalid(path, "topology has no nodes"));
        }
        for e in doc.descendants().filter(|n| n.has_tag_name("edge")) {
            let end = |attr: &str| -> Result<NodeIndex, ModelError> {
                let id = e
                    .attribute(attr)
                    .ok_or_else(|| ModelError::parse(path, line_of(e), attr, "missing"))?;
                by_id.get(id).copied().ok_or_else(|| {
                    ModelError::parse(path, line_of(e), attr, format!("unknown node {id:?}"))
                })
            };
            let (a, b) = (end("source")?, end("target")?);
            if a == b {
                continue; // self-loops carry no traffic between sites
            }
            let bandwidth_bps = match data_of(e, &k_speed) {
                Some(s) => s
                    .parse::<f64>()
                    .ok()
                    .filter(|v| *v > 0.0 && v.is_finite())
                    .ok_or_else(|| {
                        ModelError::parse(
                            path,
                            line_of(e),
                            "LinkSpeedRaw",
                            format!("not a positive number: {s:?}"),
                        )
                    })?,
                None => DEFAULT_WAN_BPS,
            };
            let latency_ms = match (coords[a.index()], coords[b.index()]) {
                (Some(p), Some(q)) => {
                    (haversine_km(p, q) * FIBRE_MS_PER_KM).max(INTRA_DC_LATENCY_MS)
                }
                _ => DEFAULT_WAN_LATENCY_MS,
            };
            graph.add_edge(
                a,
                b,
                LinkSpec {
                    bandwidth_bps,
                    latency_ms,
                },
            );
        }
        // Hosts go only on the largest set of sites linked to each other (the first such set on
        // a tie): VMs cannot migrate between sites no link joins. 18 Topology Zoo networks
        // are disconnected; the sites left out are named in a note.
        let mut components = petgraph::unionfind::UnionFind::<usize>::new(graph.node_count());
        for e in graph.edge_indices() {
            if let Some((a, b)) = graph.edge_endpoints(e) {
                components.union(a.index(), b.index());
            }
        }
        let all_sites: Vec<NodeIndex> = by_id
            .values()
            .copied()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut size = std::collections::BTreeMap::<usize, usize>::new();
        for s in &all_sites {
            *size.entry(components.find(s.index())).or_default() += 1;
        }
        let largest = all_sites
            .iter()
            .map(|s| components.find(s.index()))
            .max_by_key(|&c| (size[&c], std::cmp::Reverse(c)))
            .expect("at least one node, checked above");
        let (sites, left_out): (Vec<NodeIndex>, Vec<NodeIndex>) = all_sites
            .into_iter()
            .partition(|s| components.find(s.index()) == largest);
        let mut notes = Vec::new();
        if !left_out.is_empty() {
            let names: Vec<String> = left_out
                .iter()
                .map(|&n| match &graph[n] {
                    NodeKind::Site { name } => name.clone(),
                    other => format!("{other:?}"),
                })
                .collect();
            notes.push(format!(
                "{}: the network is disconnected; hosts placed on its largest connected part ({} sites), {} sites left out: {}",
                path.display(),
                sites.len(),
                names.len(),
                names.join(", ")
            ));
        }
        let mut host_nodes = Vec::new();
        let mut host_rack = Vec::new();
        let mut host_names = Vec::new();
        for (site_no, &site) in sites.iter().enumerate() {
            let site_name = match &graph[site] {
                NodeKind::Site { name } => name.clone(),
                _ => unreachable!("only sites were added so far"),
            };
            for h in 0..hosts_per_site {
                let idx = host_nodes.len();
                let node = graph.add_node(NodeKind::Host(idx));
                graph.add_edge(
                    node,
                    site,
                    LinkSpec {
                        bandwidth_bps: host_nic_bps,
                        latency_ms: INTRA_DC_LATENCY_MS,
                    },
                );
                host_nodes.push(node);
                host_rack.push(site_no as u32);
                host_names.push(format!("{site_name}-h{h}"));
            }
        }
        Ok(Topology {
            graph,
            host_nodes,
            host_rack,
            host_names,
            notes,
        })
    }

    /// Number of hosts attached.
    pub fn hosts(&self) -> usize {
        self.host_nodes.len()
    }

    /// Lowest-latency path between two hosts as a list of links (empty for the same host, `None`
    /// when the graph is disconnected).
    pub fn path(&self, from_host: usize, to_host: usize) -> Option<Vec<EdgeIndex>> {
        self.node_path(self.host_nodes[from_host], self.host_nodes[to_host])
    }

    /// Capacity (bits/s, each direction) from each rack or site to the rest of the fabric: the
    /// sum of the links from its switch (leaf or site) to anything but a host, so a dashboard can
    /// set the migration traffic leaving a rack against what its uplinks carry. Racks whose switch
    /// has no such link, or an unlimited one (CloudSim's single switch), are absent: no uplink
    /// constrains them.
    pub fn rack_uplink_bps(&self) -> std::collections::BTreeMap<u32, f64> {
        use petgraph::visit::EdgeRef;
        let mut out = std::collections::BTreeMap::new();
        for (h, &rack) in self.host_rack.iter().enumerate() {
            if out.contains_key(&rack) {
                continue;
            }
            let Some((_, switch)) = self.uplink(h) else {
                continue;
            };
            let bps: f64 = self
                .graph
                .edges(switch)
                .filter(|e| {
                    let other = if e.source() == switch {
                        e.target()
                    } else {
                        e.source()
                    };
                    !matches!(self.graph[other], NodeKind::Host(_))
                })
                .map(|e| e.weight().bandwidth_bps)
                .sum();
            if bps.is_finite() && bps > 0.0 {
                out.insert(rack, bps);
            }
        }
        out
    }

    /// A host's access link and the switch or site at its other end (hosts have exactly one).
    pub fn uplink(&self, host: usize) -> Option<(EdgeIndex, NodeIndex)> {
        let n = self.host_nodes[host];
        let e = self.graph.edges(n).next()?;
        use petgraph::visit::EdgeRef;
        let other = if e.source() == n {
            e.target()
        } else {
            e.source()
        };
        Some((e.id(), other))
    }

    /// Lowest-latency path between two nodes as a list of links (empty for the same node).
    pub fn node_path(&self, s: NodeIndex, t: NodeIndex) -> Option<Vec<EdgeIndex>> {
        if s == t {
            return Some(Vec::new());
        }
        let (_, nodes) = petgraph::algo::astar(
            &self.graph,
            s,
            |n| n == t,
            |e| e.weight().latency_ms,
            |_| 0.0,
        )?;
        Some(
            nodes
                .windows(2)
                .map(|w| {
                    self.graph
                        .find_edge(w[0], w[1])
                        .expect("astar returns adjacent nodes")
                })
                .collect(),
        )
    }

    /// Lowest-latency predecessor of every node reachable from `source`: the link that reaches it
    /// and the node it comes from. The search is the one [`Topology::node_path`] runs (petgraph's
    /// A* with a zero heuristic, the same heap operations tie for tie) carried on to exhaustion,
    /// so a path read back from the tree is link for link the one `node_path` returns, for one
    /// search per source instead of one per pair. Hand-written because petgraph's `dijkstra`
    /// returns distances without predecessors.
    pub fn predecessor_links(&self, source: NodeIndex) -> Vec<Option<(EdgeIndex, NodeIndex)>> {
        use petgraph::visit::EdgeRef;
        use std::cmp::Ordering;
        use std::collections::BinaryHeap;
        /// Min-heap entry on the path latency (latencies are finite).
        struct Entry(f64, NodeIndex);
        impl PartialEq for Entry {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == Ordering::Equal
            }
        }
        impl Eq for Entry {}
        impl PartialOrd for Entry {
            fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
                Some(self.cmp(other))
            }
        }
        impl Ord for Entry {
            fn cmp(&self, other: &Self) -> Ordering {
                other.0.partial_cmp(&self.0).unwrap_or(Ordering::Equal)
            }
        }
        let n = self.graph.node_count();
        let mut best = vec![f64::INFINITY; n];
        let mut pred = vec![None; n];
        let mut heap = BinaryHeap::new();
        best[source.index()] = 0.0;
        heap.push(Entry(0.0, source));
        while let Some(Entry(g, node)) = heap.pop() {
            if best[node.index()] < g {
                continue; // a stale entry
            }
            for edge in self.graph.edges(node) {
                let next = edge.target();
                let next_g = g + edge.weight().latency_ms;
                if next_g >= best[next.index()] {
                    continue;
                }
                best[next.index()] = next_g;
                pred[next.index()] = Some((edge.id(), node));
                heap.push(Entry(next_g, next));
            }
        }
        pred
    }

    /// Total one-way latency of a path.
    pub fn path_latency_ms(&self, path: &[EdgeIndex]) -> f64 {
        path.iter().map(|e| self.graph[*e].latency_ms).sum()
    }
}

/// Great-circle distance between two (latitude, longitude) points in degrees.
fn haversine_km((lat1, lon1): (f64, f64), (lat2, lon2): (f64, f64)) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predecessor_trees_give_the_same_paths_as_pairwise_search() {
        let t = Topology::leaf_spine(6, 4, 3, 10e9, 40e9);
        let switches: Vec<NodeIndex> = t
            .graph
            .node_indices()
            .filter(|n| !t.host_nodes.contains(n))
            .collect();
        for &s in &switches {
            let tree = t.predecessor_links(s);
            for &d in &switches {
                let mut path = Vec::new();
                let mut at = d;
                while at != s {
                    let (e, prev) = tree[at.index()].expect("connected");
                    path.push(e);
                    at = prev;
                }
                path.reverse();
                assert_eq!(Some(path), t.node_path(s, d), "{s:?} -> {d:?}");
            }
        }
    }

    #[test]
    fn rack_uplinks_sum_the_leaf_to_spine_links() {
        let t = Topology::leaf_spine(3, 4, 2, 10e9, 40e9);
        let up = t.rack_uplink_bps();
        assert_eq!(up.len(), 3);
        assert!(up.values().all(|&b| b == 80e9), "{up:?}");
        assert!(
            Topology::single_switch(4, 10e9)
                .rack_uplink_bps()
                .is_empty()
        );
    }

    #[test]
    fn leaf_spine_paths_cross_the_fabric() {
        let t = Topology::leaf_spine(3, 4, 2, 10e9, 40e9);
        assert_eq!(t.hosts(), 12);
        assert_eq!(t.path(0, 1).unwrap().len(), 2, "same rack: host-leaf-host");
        assert_eq!(
            t.path(0, 5).unwrap().len(),
            4,
            "other rack: host-leaf-spine-leaf-host"
        );
        assert!(t.path(3, 3).unwrap().is_empty());
    }

    #[test]
    fn haversine_new_york_to_chicago() {
        let d = haversine_km((40.71, -74.0), (41.88, -87.63));
        assert!((d - 1145.0).abs() < 15.0, "{d}");
    }
}
