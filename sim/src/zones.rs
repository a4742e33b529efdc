//! Zones (racks, datacenters) joined by links: a petgraph graph whose zone-to-zone paths are
//! precomputed whenever a link changes, so routing a message costs one table lookup.
//!
//! A message between two zones takes the path of least total mean delay; its delay minimum
//! and mean are the sums over the path's links, and it survives the path only if it survives
//! every link (`1 − Π(1 − loss)` is lost). A link whose loss probability is 1 is cut: it is
//! left out of the graph, so traffic takes another path if there is one. Zones with no path
//! between them cannot talk at all.

use petgraph::graph::{NodeIndex, UnGraph};

/// The extra delay and loss of going from one zone to another.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Path {
    /// Summed minimum one-way delay, in nanoseconds.
    pub delay_min_ns: u64,
    /// Summed mean one-way delay, in nanoseconds.
    pub delay_mean_ns: u64,
    /// Probability of surviving every link of the path.
    pub survival: f64,
}

/// One link's parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// Least one-way delay, in nanoseconds.
    pub delay_min_ns: u64,
    /// Mean one-way delay, in nanoseconds (at least the minimum).
    pub delay_mean_ns: u64,
    /// Probability that a message is lost on it, in [0, 1].
    pub loss_probability: f64,
}

/// Zone membership of every member and the routes between zones.
#[derive(Clone, Debug)]
pub struct Zones {
    names: Vec<String>,
    member_zone: Vec<u16>,
    /// Links by unordered zone pair (`a < b`), in the order first defined.
    links: Vec<((u16, u16), Link)>,
    /// `paths[a * zones + b]`: the route from zone a to zone b (`None`: unreachable).
    paths: Vec<Option<Path>>,
}

impl Zones {
    /// Zones named `names`, with `member_zone[i]` the zone index of member i, and no links.
    pub fn new(names: Vec<String>, member_zone: Vec<u16>) -> Self {
        let mut zones = Zones {
            names,
            member_zone,
            links: Vec::new(),
            paths: Vec::new(),
        };
        zones.route();
        zones
    }

    /// The index of the zone called `name`.
    pub fn index(&self, name: &str) -> Option<u16> {
        self.names.iter().position(|n| n == name).map(|i| i as u16)
    }

    /// The zone of member `member`.
    pub fn zone_of(&self, member: u32) -> u16 {
        self.member_zone[member as usize]
    }

    /// The current parameters of the link between zones `a` and `b`, if there is one.
    pub fn link(&self, a: u16, b: u16) -> Option<Link> {
        let key = (a.min(b), a.max(b));
        self.links.iter().find(|(k, _)| *k == key).map(|(_, l)| *l)
    }

    /// Adds or replaces the link between zones `a` and `b`, and recomputes the routes.
    pub fn set_link(&mut self, a: u16, b: u16, link: Link) {
        let key = (a.min(b), a.max(b));
        match self.links.iter_mut().find(|(k, _)| *k == key) {
            Some((_, l)) => *l = link,
            None => self.links.push((key, link)),
        }
        self.route();
    }

    /// The route between two members' zones (a zero path within one zone); `None` when no
    /// uncut path joins them.
    pub fn path(&self, from: u32, to: u32) -> Option<Path> {
        let (a, b) = (self.zone_of(from) as usize, self.zone_of(to) as usize);
        self.paths[a * self.names.len() + b]
    }

    /// Recomputes every zone-to-zone route (shortest by mean delay).
    fn route(&mut self) {
        let n = self.names.len();
        let mut graph: UnGraph<(), Link> = UnGraph::new_undirected();
        let nodes: Vec<NodeIndex> = (0..n).map(|_| graph.add_node(())).collect();
        for &((a, b), link) in &self.links {
            if link.loss_probability < 1.0 && a != b {
                graph.add_edge(nodes[a as usize], nodes[b as usize], link);
            }
        }
        let zero = Path {
            delay_min_ns: 0,
            delay_mean_ns: 0,
            survival: 1.0,
        };
        self.paths = vec![None; n * n];
        for a in 0..n {
            self.paths[a * n + a] = Some(zero);
            for b in (a + 1)..n {
                let found = petgraph::algo::astar(
                    &graph,
                    nodes[a],
                    |node| node == nodes[b],
                    |edge| edge.weight().delay_mean_ns,
                    |_| 0,
                );
                let Some((_, route)) = found else { continue };
                let mut path = zero;
                for hop in route.windows(2) {
                    let Some(edge) = graph.find_edge(hop[0], hop[1]) else {
                        continue;
                    };
                    let link = graph[edge];
                    path.delay_min_ns += link.delay_min_ns;
                    path.delay_mean_ns += link.delay_mean_ns;
                    path.survival *= 1.0 - link.loss_probability;
                }
                self.paths[a * n + b] = Some(path);
                self.paths[b * n + a] = Some(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(mean_ms: u64, loss: f64) -> Link {
        Link {
            delay_min_ns: mean_ms * 500_000,
            delay_mean_ns: mean_ms * 1_000_000,
            loss_probability: loss,
        }
    }

    /// Three zones, one member each: a–b direct (slow), a–c–b (faster in total).
    fn triangle() -> Zones {
        let mut z = Zones::new(vec!["a".into(), "b".into(), "c".into()], vec![0, 1, 2]);
        z.set_link(0, 1, link(50, 0.0));
        z.set_link(0, 2, link(10, 0.1));
        z.set_link(2, 1, link(10, 0.1));
        z
    }

    #[test]
    fn shortest_path_by_mean_delay() {
        let z = triangle();
        let p = z.path(0, 1).expect("reachable");
        assert_eq!(p.delay_mean_ns, 20_000_000);
        assert_eq!(p.delay_min_ns, 10_000_000);
        assert!((p.survival - 0.81).abs() < 1e-12);
        assert_eq!(z.path(1, 0), Some(p));
        assert_eq!(z.path(0, 0).expect("same zone").delay_mean_ns, 0);
    }

    #[test]
    fn cutting_a_link_reroutes_or_disconnects() {
        let mut z = triangle();
        z.set_link(0, 2, link(10, 1.0));
        let p = z.path(0, 1).expect("direct link remains");
        assert_eq!(p.delay_mean_ns, 50_000_000);
        z.set_link(1, 0, link(50, 1.0));
        assert_eq!(z.path(0, 1), None);
        assert!(z.path(2, 1).is_some());
        assert_eq!(z.index("c"), Some(2));
        assert_eq!(z.link(1, 0).map(|l| l.loss_probability), Some(1.0));
    }
}
