;; Hostile guest: grows a table to 2^28 elements (2 GiB of slots in Wasmtime)
;; while rendering. A per-memory cap does not see tables; the table-element
;; bound must stop it. Core module of a linode-ai:hooks@0.2.0 component
;; (tests/hooks.rs wraps it with wit-component).
(module
  (memory (export "memory") 1)
  (table $t 1 funcref)
  (global $bump (mut i32) (i32.const 4096))
  ;; Bump allocator for the arguments the host passes.
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get 2))))
    (global.set $bump (i32.add (local.get $p) (local.get 3)))
    (if (i32.gt_u (global.get $bump) (i32.shl (memory.size) (i32.const 16)))
      (then (if (i32.eq (memory.grow (i32.add (i32.shr_u (global.get $bump) (i32.const 16)) (i32.const 1)))
                        (i32.const -1))
              (then unreachable))))
    (local.get $p))
  ;; Returns a pointer to zeroes: ok(none).
  (func (export "linode-ai:hooks/guest@0.2.0#render-user-data") (param i32) (result i32)
    (drop (table.grow $t (ref.null func) (i32.const 0x10000000)))
    (i32.const 0))
  ;; none: the built-in rule.
  (func (export "linode-ai:hooks/guest@0.2.0#evaluate-health") (param i32) (result i32)
    (i32.const 0)))
