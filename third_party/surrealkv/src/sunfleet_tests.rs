//! sunfleet patch: what a process that stops without closing the tree (a crash, a kill, a
//! runtime already gone) finds when it opens the tree again. See PATCHED.md.

use std::path::Path;

use tempfile::TempDir;

use crate::lsm::{Tree, TreeBuilder};
use crate::wal::cleanup_old_segments;

const VALUE: [u8; 512] = [7u8; 512];

fn runtime() -> tokio::runtime::Runtime {
	tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Opens the tree inside `rt`, which runs its background tasks.
fn open(rt: &tokio::runtime::Runtime, path: &Path, memtable: usize) -> Tree {
	let _inside = rt.enter();
	TreeBuilder::new().with_path(path.to_path_buf()).with_max_memtable_size(memtable).build().unwrap()
}

fn key(i: usize) -> Vec<u8> {
	format!("key-{i:08}").into_bytes()
}

/// Commits keys `from..to`, one transaction each.
async fn write(tree: &Tree, from: usize, to: usize) {
	for i in from..to {
		let mut txn = tree.begin().unwrap();
		txn.set(key(i), VALUE.to_vec()).unwrap();
		txn.commit().await.unwrap();
	}
}

/// Stops like a killed process: the runtime and its background tasks go first, then the
/// tree is dropped where no runtime can close it.
fn crash(runtime: tokio::runtime::Runtime, tree: Tree) {
	drop(runtime);
	std::thread::spawn(move || drop(tree)).join().unwrap();
}

fn missing(tree: &Tree, from: usize, to: usize) -> Vec<usize> {
	let txn = tree.begin().unwrap();
	(from..to).filter(|&i| txn.get(key(i)).unwrap().is_none()).collect()
}

#[test]
fn a_commit_applied_after_the_memtable_rotated_survives_a_crash_once_the_old_memtable_is_flushed() {
	let dir = TempDir::new().unwrap();
	let rt = runtime();
	let tree = open(&rt, dir.path(), 64 * 1024);
	let written = 600;
	rt.block_on(async {
		// ~300 KiB into 64 KiB memtables: every rotation is made by a commit that found the
		// arena full, after its record went to the older WAL segment.
		write(&tree, 0, written).await;
		// The background flush turns the older memtables into tables and deletes their WAL
		// segments; the newest memtable is only in memory.
		// Waited for (up to a minute: the crate's other tests share the cores), then done
		// here if it has not finished.
		let flushed = || tree.core.inner.immutable_memtables.read().unwrap().is_empty();
		for _ in 0..6000 {
			if flushed() {
				break;
			}
			tokio::time::sleep(std::time::Duration::from_millis(10)).await;
		}
		if !flushed() {
			tree.core.inner.flush_all_immutables_sync().unwrap();
		}
		assert!(flushed());
		let log_number = tree.core.inner.level_manifest.read().unwrap().get_log_number();
		assert!(log_number > 1, "the test needs a flushed memtable (log number {log_number})");
		// The same cleanup the flush spawned, done now (it may have run already).
		let _ = cleanup_old_segments(&tree.core.inner.opts.wal_dir(), log_number);
	});
	crash(rt, tree);

	let rt = runtime();
	let tree = open(&rt, dir.path(), 64 * 1024);
	assert_eq!(missing(&tree, 0, written), Vec::<usize>::new());
	rt.block_on(tree.close()).unwrap();
}

#[test]
fn commits_after_replaying_a_split_newest_wal_segment_survive_the_next_replay() {
	let dir = TempDir::new().unwrap();
	// One segment larger than the next opening's memtable.
	let rt = runtime();
	let tree = open(&rt, dir.path(), 4 * 1024 * 1024);
	rt.block_on(write(&tree, 0, 800));
	crash(rt, tree);

	// Its replay splits the segment and flushes the first pieces; then more commits.
	let rt = runtime();
	let tree = open(&rt, dir.path(), 128 * 1024);
	rt.block_on(write(&tree, 800, 810));
	crash(rt, tree);

	let rt = runtime();
	let tree = open(&rt, dir.path(), 128 * 1024);
	assert_eq!(missing(&tree, 0, 810), Vec::<usize>::new());
	rt.block_on(tree.close()).unwrap();
}

#[test]
fn a_closed_tree_is_dropped_without_a_runtime_quietly_and_reopens_with_nothing_to_replay() {
	let dir = TempDir::new().unwrap();
	let rt = runtime();
	let tree = open(&rt, dir.path(), 64 * 1024);
	rt.block_on(async {
		write(&tree, 0, 300).await;
		tree.close().await.unwrap();
	});
	crash(rt, tree);

	let rt = runtime();
	let tree = open(&rt, dir.path(), 64 * 1024);
	assert_eq!(missing(&tree, 0, 300), Vec::<usize>::new());
	// Everything was flushed at close: the active memtable starts empty.
	assert!(tree.core.inner.active_memtable.read().unwrap().is_empty());
	rt.block_on(tree.close()).unwrap();
}

#[test]
fn dropping_a_clone_of_the_tree_leaves_it_open_for_the_other_handles() {
	let dir = TempDir::new().unwrap();
	let rt = runtime();
	let tree = open(&rt, dir.path(), 64 * 1024);
	rt.block_on(async {
		write(&tree, 0, 10).await;
		// As SurrealDB's commit coordinator does with its clone, inside the runtime.
		drop(tree.clone());
		tokio::time::sleep(std::time::Duration::from_millis(100)).await;
		write(&tree, 10, 20).await;
	});
	assert_eq!(missing(&tree, 0, 20), Vec::<usize>::new());
	rt.block_on(tree.close()).unwrap();
}
