//! Splitting a selection across CI runners, as nextest does: `count:K/N` deals the
//! sorted selection round-robin, `hash:K/N` places each gate by a stable hash of its id
//! (so a gate stays on its runner when others come and go). The parts are disjoint and
//! their union is the selection.

use std::fmt;
use std::str::FromStr;

use super::select::SelectedGate;

/// How parts are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Count,
    Hash,
}

/// One part of `total`, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub strategy: Strategy,
    pub part: usize,
    pub total: usize,
}

impl FromStr for Partition {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let error = || {
            format!(
                "`{text}` is not a partition; write `count:K/N` or `hash:K/N` with 1 <= K <= N (e.g. `hash:1/3`)"
            )
        };
        let (kind, fraction) = text.split_once(':').ok_or_else(error)?;
        let strategy = match kind {
            "count" => Strategy::Count,
            "hash" => Strategy::Hash,
            "duration" => {
                return Err(String::from(
                    "`duration:K/N` balances parts by recorded gate durations, which needs the outcome store; ctx has no store yet: use `count:K/N` or `hash:K/N`",
                ));
            }
            _ => return Err(error()),
        };
        let (part, total) = fraction.split_once('/').ok_or_else(error)?;
        let part: usize = part.parse().map_err(|_| error())?;
        let total: usize = total.parse().map_err(|_| error())?;
        if part == 0 || total == 0 || part > total {
            return Err(error());
        }
        Ok(Self {
            strategy,
            part,
            total,
        })
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.strategy {
            Strategy::Count => "count",
            Strategy::Hash => "hash",
        };
        write!(formatter, "{kind}:{}/{}", self.part, self.total)
    }
}

/// The stable bucket of an id among `total` (blake3: the same on every machine).
fn bucket(id: &str, total: usize) -> usize {
    let hash = blake3::hash(id.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&hash.as_bytes()[..8]);
    (u64::from_le_bytes(bytes) % total as u64) as usize
}

impl Partition {
    /// Which of `ids` are in this part (their positions), keeping the given order.
    pub fn select(&self, ids: &[String]) -> Vec<usize> {
        match self.strategy {
            Strategy::Count => {
                let mut sorted: Vec<usize> = (0..ids.len()).collect();
                sorted.sort_by(|&a, &b| ids[a].cmp(&ids[b]));
                let mut chosen: Vec<usize> = sorted
                    .into_iter()
                    .enumerate()
                    .filter(|(rank, _)| rank % self.total == self.part - 1)
                    .map(|(_, index)| index)
                    .collect();
                chosen.sort_unstable();
                chosen
            }
            Strategy::Hash => (0..ids.len())
                .filter(|&index| bucket(&ids[index], self.total) == self.part - 1)
                .collect(),
        }
    }

    /// The gates of this part.
    pub fn apply(&self, gates: Vec<SelectedGate>) -> Vec<SelectedGate> {
        let ids: Vec<String> = gates.iter().map(|gate| gate.id.to_string()).collect();
        let keep = self.select(&ids);
        gates
            .into_iter()
            .enumerate()
            .filter(|(index, _)| keep.binary_search(index).is_ok())
            .map(|(_, gate)| gate)
            .collect()
    }
}

/// The GitHub Actions matrix for `total` parts: `{"include": [{"partition": "hash:1/N"}, …]}`.
pub fn matrix(total: usize) -> serde_json::Value {
    let include: Vec<serde_json::Value> = (1..=total)
        .map(|part| {
            serde_json::json!({
                "partition": format!("hash:{part}/{total}"),
                "name": format!("gates {part} of {total}"),
            })
        })
        .collect();
    serde_json::json!({ "include": include })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{prop_assert, proptest};

    use super::{Partition, Strategy};

    #[test]
    fn partitions_parse_and_print() {
        let part: Partition = "hash:2/3".parse().unwrap();
        assert_eq!(part.to_string(), "hash:2/3");
        for bad in ["hash:0/3", "count:4/3", "count:1", "x:1/2", "count:a/2"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
        assert!(
            "duration:1/2"
                .parse::<Partition>()
                .unwrap_err()
                .contains("outcome store")
        );
    }

    proptest! {
        /// For any selection and any N, the N parts of each strategy are disjoint and
        /// together are the selection; count parts differ in size by at most one.
        #[test]
        fn parts_are_disjoint_and_complete(
            ids in proptest::collection::btree_set("[a-z]{1,6}:[a-z]{1,6}/[a-z0-9-]{1,8}", 0..60),
            total in 1usize..8,
        ) {
            let ids: Vec<String> = ids.into_iter().collect();
            for strategy in [Strategy::Count, Strategy::Hash] {
                let mut seen = vec![0usize; ids.len()];
                let mut sizes = Vec::new();
                for part in 1..=total {
                    let chosen = Partition { strategy, part, total }.select(&ids);
                    sizes.push(chosen.len());
                    for index in chosen {
                        seen[index] += 1;
                    }
                }
                prop_assert!(seen.iter().all(|&count| count == 1), "{strategy:?}: {seen:?}");
                if strategy == Strategy::Count {
                    let (min, max) = (sizes.iter().min().copied(), sizes.iter().max().copied());
                    prop_assert!(max.unwrap_or(0) - min.unwrap_or(0) <= 1);
                }
            }
        }
    }
}
