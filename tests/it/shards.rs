//! The split of one schedule over shards: for every arrival process, any number of shards and any
//! seed, the shards' arrivals together are exactly the unsharded schedule, each arrival in one shard.

use std::time::Duration;

use infergate::plan::arrivals::{Arrivals, Process};
use infergate::plan::shard::Shard;
use proptest::prelude::*;

fn process(kind: u8, burstiness: f64) -> Process {
    match kind % 3 {
        0 => Process::Constant,
        1 => Process::Poisson,
        _ => Process::Gamma { burstiness },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn the_union_of_the_shards_is_the_unsharded_schedule(
        kind in 0u8..3,
        burstiness in 0.2f64..4.0,
        rate in 1.0f64..400.0,
        millis in 1u64..3_000,
        seed in any::<u64>(),
        count in 1u32..9,
    ) {
        let p = process(kind, burstiness);
        let duration = Duration::from_millis(millis);
        let whole: Vec<(u64, Duration)> = Arrivals::new(p, rate, duration, seed)
            .enumerate()
            .map(|(i, d)| (i as u64, d))
            .collect();
        let mut union: Vec<(u64, Duration)> = (0..count)
            .flat_map(|i| {
                Shard::new(i, count)
                    .unwrap()
                    .arrivals(Arrivals::new(p, rate, duration, seed))
                    .collect::<Vec<_>>()
            })
            .collect();
        union.sort();
        prop_assert_eq!(union, whole);
    }
}
