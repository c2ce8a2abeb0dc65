;; Hostile guest: four extra memories, each grown by 96 MiB while rendering.
;; Each stays under any per-memory cap and the count is allowed; the bound on
;; bytes across all memories must stop it. Core module of a
;; linode-ai:hooks@0.2.0 component.
(module
  (memory (export "memory") 1)
  (memory $m0 1)
  (memory $m1 1)
  (memory $m2 1)
  (memory $m3 1)
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
    (drop (memory.grow $m0 (i32.const 1536)))
    (drop (memory.grow $m1 (i32.const 1536)))
    (drop (memory.grow $m2 (i32.const 1536)))
    (drop (memory.grow $m3 (i32.const 1536)))
    (i32.const 0))
  ;; none: the built-in rule.
  (func (export "linode-ai:hooks/guest@0.2.0#evaluate-health") (param i32) (result i32)
    (i32.const 0)))
