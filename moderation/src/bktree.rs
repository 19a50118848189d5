//! A BK-tree over 64-bit hashes under Hamming distance.
//!
//! Each child edge is labelled with its distance to the parent; the
//! triangle inequality lets a radius-`r` query skip every subtree whose edge
//! label is outside `[d - r, d + r]`. For the small radii moderation uses
//! (≤ 10 of 64 bits) a query visits a small fraction of the tree.

use crate::phash::{hamming, PHash};

#[derive(Debug, Default, Clone)]
pub struct BkTree<T> {
    nodes: Vec<Node<T>>,
}

#[derive(Debug, Clone)]
struct Node<T> {
    hash: PHash,
    value: T,
    /// (distance to this node, child index)
    children: Vec<(u32, usize)>,
}

impl<T> BkTree<T> {
    pub fn new() -> Self {
        Self { nodes: Vec::new() }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn insert(&mut self, hash: PHash, value: T) {
        let new = self.nodes.len();
        self.nodes.push(Node { hash, value, children: Vec::new() });
        if new == 0 {
            return;
        }
        let mut at = 0;
        loop {
            let d = hamming(self.nodes[at].hash, hash);
            match self.nodes[at].children.iter().find(|(cd, _)| *cd == d) {
                Some(&(_, child)) => at = child,
                None => {
                    self.nodes[at].children.push((d, new));
                    return;
                }
            }
        }
    }

    /// Every entry within `radius` bits of `hash`, with its distance,
    /// nearest first; also returns how many nodes were visited.
    pub fn find(&self, hash: PHash, radius: u32) -> (Vec<(u32, &T)>, usize) {
        let mut found = Vec::new();
        let mut visited = 0;
        if self.nodes.is_empty() {
            return (found, 0);
        }
        let mut stack = vec![0usize];
        while let Some(i) = stack.pop() {
            visited += 1;
            let node = &self.nodes[i];
            let d = hamming(node.hash, hash);
            if d <= radius {
                found.push((d, &node.value));
            }
            for &(cd, child) in &node.children {
                if cd + radius >= d && cd <= d + radius {
                    stack.push(child);
                }
            }
        }
        found.sort_by_key(|(d, _)| *d);
        (found, visited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exactly_what_a_scan_finds_while_visiting_less() {
        // A deterministic pseudo-random set of hashes.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let hashes: Vec<u64> = (0..20_000).map(|_| next()).collect();
        let mut tree = BkTree::new();
        for (i, h) in hashes.iter().enumerate() {
            tree.insert(*h, i);
        }
        let probe = hashes[1234] ^ 0b1011; // 3 bits away from one entry
        let (found, visited) = tree.find(probe, 8);
        let scan: Vec<usize> = hashes.iter().enumerate().filter(|(_, h)| hamming(**h, probe) <= 8).map(|(i, _)| i).collect();
        let mut got: Vec<usize> = found.iter().map(|(_, v)| **v).collect();
        got.sort();
        assert_eq!(got, scan);
        assert_eq!(found[0], (3, &1234));
        assert!(visited < hashes.len() / 2, "visited {visited} of {}", hashes.len());
    }
}
