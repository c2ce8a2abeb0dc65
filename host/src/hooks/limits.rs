//! The resource bounds of one hook instance, enforced and recorded: total
//! bytes across all linear memories, elements per table, and how many
//! memories, tables and instances may exist. When a bound stops the hook, the
//! error says which one.

use wasmtime::ResourceLimiter;

/// Bytes across all linear memories of one hook instance.
pub const MEMORY_TOTAL: usize = 256 << 20;
/// Elements of any one table (8 bytes each in Wasmtime).
pub const TABLE_ELEMENTS: usize = 1 << 20;
/// Core instances (a component is several: the module, adapters, shims).
pub const INSTANCES: usize = 32;
pub const TABLES: usize = 32;
pub const MEMORIES: usize = 8;

/// Which bound stopped a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Memory,
    Table,
}

/// A limiter that enforces the bounds and remembers which one was hit.
#[derive(Debug, Default)]
pub struct Recorder {
    used: usize,
    pub hit: Option<Limit>,
    /// Most bytes held at once (for measurements).
    pub peak: usize,
}

impl ResourceLimiter for Recorder {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.used.saturating_sub(current).saturating_add(desired);
        if total > MEMORY_TOTAL {
            self.hit = Some(Limit::Memory);
            wasmtime::bail!(
                "memory limit: {} MiB across all memories",
                MEMORY_TOTAL >> 20
            );
        }
        self.used = total;
        self.peak = self.peak.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > TABLE_ELEMENTS {
            self.hit = Some(Limit::Table);
            wasmtime::bail!("table limit: {TABLE_ELEMENTS} elements");
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        INSTANCES
    }
    fn tables(&self) -> usize {
        TABLES
    }
    fn memories(&self) -> usize {
        MEMORIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_counted_across_memories() {
        let mut r = Recorder::default();
        assert!(r.memory_growing(0, 100 << 20, None).unwrap());
        assert!(r.memory_growing(0, 100 << 20, None).unwrap());
        assert!(
            r.memory_growing(0, 100 << 20, None).is_err(),
            "a third 100 MiB memory passes the total"
        );
        assert_eq!(r.hit, Some(Limit::Memory));
        let mut r = Recorder::default();
        assert!(r.table_growing(1, 1 << 28, None).is_err());
        assert_eq!(r.hit, Some(Limit::Table));
    }
}
