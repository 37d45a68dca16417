"""Vector operations that Numba's loop vectoriser does not find, written as LLVM IR
(``numba.extending.intrinsic``) and inlined into the compiled kernels.

:func:`compress_active` finds the active entries among eight values with one vector
comparison and writes their positions with one table lookup (the "left-pack" of SIMD
stream compaction): no branch on the data and no per-entry loop. LLVM lowers the
eight-lane vectors to whatever the CPU has (two SSE or one AVX2 register of float32, or
AVX2 pairs for float64; NEON on ARM), so the IR is portable. :func:`sum_panel_rows` and
:func:`panel_lif_step` sum 16-value rows of a weight panel in four running vector sums (and
step 16 LIF neurons from the total) without a value leaving the registers.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

LANES = 8  # values per compress_active call


def _left_pack_table(lanes: int) -> np.ndarray:
    """``table[m]``: the positions of the set bits of ``m`` in increasing order, then zeros
    (``[2**lanes, lanes]`` int64)."""
    table = np.zeros((1 << lanes, lanes), np.int64)
    for mask in range(1 << lanes):
        positions = [k for k in range(lanes) if mask >> k & 1]
        table[mask, :len(positions)] = positions
    return table


LEFT_PACK = _left_pack_table(LANES)


@intrinsic
def compress_active(typingctx, row, start, table, out, n, one):
    """``compress_active(row, start, LEFT_PACK, out, n, one)`` for the eight values
    ``row[start:start + 8]`` (float bits seen as same-width integers): writes ``start + k``
    for each value ``k`` whose magnitude bits are not zero (not 0.0 or -0.0) to ``out[n],
    out[n + 1], ...`` and returns their count, plus 256 when one of them is not ``one``
    (the bits of 1.0: a value that is neither 0 nor 1). Always stores eight entries from
    ``out[n]`` (those past the count are junk): ``out`` needs room for ``n + 8``. ``row``
    (int32 or int64) and ``out`` (int64) are C-contiguous 1-D arrays (typing fails
    otherwise); nothing is bounds-checked."""
    arrays = (row, table, out)
    if not all(isinstance(a, types.Array) and a.layout == "C" for a in arrays):
        return None  # contiguous arrays only: the loads and stores take unit strides
    if (row.ndim != 1 or row.dtype not in (types.int32, types.int64)
            or table.dtype != types.int64 or out.ndim != 1 or out.dtype != types.int64):
        return None
    sig = types.int64(row, start, table, out, n, one)

    def codegen(context, builder, signature, args):
        row_v, start_v, table_v, out_v, n_v, one_v = args
        row_t, start_t, table_t, out_t, n_t, one_t = signature.args
        row_p = context.make_array(row_t)(context, builder, row_v).data
        table_p = context.make_array(table_t)(context, builder, table_v).data
        out_p = context.make_array(out_t)(context, builder, out_v).data
        int_t = context.get_value_type(row_t.dtype)
        i32, i64 = ir.IntType(32), ir.IntType(64)
        values_t = ir.VectorType(int_t, LANES)
        index_t = ir.VectorType(i64, LANES)

        def splat(value, vector_t):
            vector = ir.Constant(vector_t, ir.Undefined)
            for k in range(LANES):
                vector = builder.insert_element(vector, value, ir.Constant(i32, k))
            return vector

        first = context.cast(builder, start_v, start_t, types.int64)
        at = context.cast(builder, n_v, n_t, types.int64)
        one_bits = context.cast(builder, one_v, one_t, row_t.dtype)
        values = builder.load(builder.bitcast(builder.gep(row_p, [first]),
                                              values_t.as_pointer()), align=int_t.width // 8)
        magnitude = ir.Constant(values_t, [ir.Constant(int_t, (1 << (int_t.width - 1)) - 1)]
                                * LANES)
        zero = ir.Constant(values_t, [ir.Constant(int_t, 0)] * LANES)
        active = builder.icmp_unsigned("!=", builder.and_(values, magnitude), zero)
        not_one = builder.icmp_unsigned("!=", values, splat(one_bits, values_t))
        bad = builder.and_(active, not_one)
        mask = builder.zext(builder.bitcast(active, ir.IntType(LANES)), i64)
        bad_mask = builder.zext(builder.bitcast(bad, ir.IntType(LANES)), i64)
        row_of_table = builder.gep(table_p, [builder.mul(mask, ir.Constant(i64, LANES))])
        positions = builder.load(builder.bitcast(row_of_table, index_t.as_pointer()), align=8)
        builder.store(builder.add(positions, splat(first, index_t)),
                      builder.bitcast(builder.gep(out_p, [at]), index_t.as_pointer()),
                      align=8)
        count = builder.ctpop(mask)
        any_bad = builder.zext(builder.icmp_unsigned("!=", bad_mask, ir.Constant(i64, 0)),
                               i64)
        return builder.or_(count, builder.shl(any_bad, ir.Constant(i64, 8)))

    return sig, codegen


NARROW = 16  # values per row of the panel and narrow-row kernels (16 float32: 64 bytes)


def _narrow_args_ok(table, row, idx) -> bool:
    """The types the narrow-row kernels take: ``table[n, 16]`` and ``row[16+]`` of one
    float dtype, ``idx`` int64, all C-contiguous."""
    arrays = (table, row, idx)
    if not all(isinstance(a, types.Array) and a.layout == "C" for a in arrays):
        return False
    return (table.dtype == row.dtype and table.dtype in (types.float32, types.float64)
            and table.ndim == 2 and row.ndim == 1 and idx.ndim == 1
            and idx.dtype == types.int64)


def _vector_pointer(context, builder, array_type, array_value):
    """``(pointer to the array's first 16 values as one vector, their alignment)``."""
    real = context.get_value_type(array_type.dtype)
    data = context.make_array(array_type)(context, builder, array_value).data
    return (builder.bitcast(data, ir.VectorType(real, NARROW).as_pointer()),
            context.get_abi_sizeof(real))


@contextmanager
def _table_rows(context, builder, signature, args, table_pos):
    """Emits ``for j in j0..j1`` (arguments 2 and 3; ``idx`` is argument 1) and yields,
    inside the loop, a vector pointer to the table's row ``idx[j]`` (``args[table_pos]``,
    ``[n, 16]``): what the narrow-row kernel loops over."""
    table_t, idx_t, j0_t, j1_t = (signature.args[table_pos], *signature.args[1:4])
    table_p = context.make_array(table_t)(context, builder, args[table_pos]).data
    idx_p = context.make_array(idx_t)(context, builder, args[1]).data
    first = context.cast(builder, args[2], j0_t, types.int64)
    stop = context.cast(builder, args[3], j1_t, types.int64)
    vector_t = ir.VectorType(context.get_value_type(table_t.dtype), NARROW)
    with cgutils.for_range(builder, builder.sub(stop, first)) as loop:
        entry = builder.load(builder.gep(idx_p, [builder.add(first, loop.index)]))
        at = builder.gep(table_p, [builder.mul(entry, ir.Constant(entry.type, NARROW))])
        yield builder.bitcast(at, vector_t.as_pointer())


PANEL_SUMS = 4  # independent running sums of sum_panel_rows (hides the add's latency)


def _panel_sum(context, builder, signature, args):
    """The IR of ``init + ((s0 + s1) + (s2 + s3))`` of :func:`sum_panel_rows` (arguments
    ``src, idx, j0, j1, init`` first), as one 16-lane vector value."""
    src_t, idx_t, j0_t, j1_t = signature.args[:4]
    init_ptr, align = _vector_pointer(context, builder, signature.args[4], args[4])
    real = context.get_value_type(src_t.dtype)
    vector_t = ir.VectorType(real, NARROW)
    i64 = ir.IntType(64)
    src_p = context.make_array(src_t)(context, builder, args[0]).data
    idx_p = context.make_array(idx_t)(context, builder, args[1]).data
    first = context.cast(builder, args[2], j0_t, types.int64)
    stop = context.cast(builder, args[3], j1_t, types.int64)
    zero = ir.Constant(vector_t, [ir.Constant(real, 0.0)] * NARROW)
    sums = [cgutils.alloca_once_value(builder, zero) for _ in range(PANEL_SUMS)]

    def row(j):
        entry = builder.load(builder.gep(idx_p, [j]))
        at = builder.gep(src_p, [builder.mul(entry, ir.Constant(i64, NARROW))])
        return builder.load(builder.bitcast(at, vector_t.as_pointer()), align=align)

    count = builder.sub(stop, first)
    rounds = builder.sdiv(count, ir.Constant(i64, PANEL_SUMS))
    with cgutils.for_range(builder, rounds) as loop:
        base = builder.add(first, builder.mul(loop.index, ir.Constant(i64, PANEL_SUMS)))
        for k, total in enumerate(sums):
            value = row(builder.add(base, ir.Constant(i64, k)))
            builder.store(builder.fadd(builder.load(total), value), total)
    tail = builder.add(first, builder.mul(rounds, ir.Constant(i64, PANEL_SUMS)))
    with cgutils.for_range(builder, builder.sub(stop, tail)) as loop:
        for k, total in enumerate(sums[:PANEL_SUMS - 1]):  # j - j0 is 0, 1 or 2 mod 4
            with builder.if_then(builder.icmp_signed("==", loop.index, ir.Constant(i64, k))):
                value = row(builder.add(tail, loop.index))
                builder.store(builder.fadd(builder.load(total), value), total)
    s0, s1, s2, s3 = (builder.load(total) for total in sums)
    both = builder.fadd(builder.fadd(s0, s1), builder.fadd(s2, s3))
    return builder.fadd(builder.load(init_ptr, align=align), both), vector_t, align


@intrinsic
def sum_panel_rows(typingctx, src, idx, j0, j1, init, out):
    """``out[:16] = init[:16] + ((s0 + s1) + (s2 + s3))`` for ``src[n, 16]``, where ``s_k``
    is the sum of the rows ``src[idx[j]]`` with ``(j - j0) % 4 == k``, each added in order
    of ``j``: four running sums in vector registers, so that an addition need not wait for
    the one before it. ``src`` and ``init``, ``out`` (one float dtype, C-contiguous; ``src``
    exactly 16 wide, ``init`` and ``out`` at least 16 long) and ``idx`` (int64) are not
    bounds-checked."""
    if not (_narrow_args_ok(src, out, idx) and _narrow_args_ok(src, init, idx)):
        return None
    sig = types.none(src, idx, j0, j1, init, out)

    def codegen(context, builder, signature, args):
        total, _, align = _panel_sum(context, builder, signature, args)
        out_ptr, _ = _vector_pointer(context, builder, signature.args[5], args[5])
        builder.store(total, out_ptr, align=align)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def panel_lif_step(typingctx, src, idx, j0, j1, init, beta, vr, u_row, s_row, thr, subtract):
    """One LIF step of 16 neurons driven by :func:`sum_panel_rows`'s sum ``x`` (not
    stored): ``V = beta Vr + x``, ``U = V - thr`` into ``u_row[:16]``, ``S = [U >= 0]``
    into ``s_row[:16]``, and the reset potential ``U`` (``subtract``) or 0 where it
    spiked, else ``V``, into ``vr[:16]`` -- the operations of
    :func:`spikewave.kernels.lif_fused._membrane_row` in its order, so the same bits, with
    every value in vector registers. Arrays as :func:`sum_panel_rows` (``beta``, ``vr``,
    ``u_row``, ``s_row`` 1-D, at least 16 long, of ``src``'s dtype)."""
    rows = (init, beta, vr, u_row, s_row)
    if not all(_narrow_args_ok(src, a, idx) for a in rows):
        return None
    sig = types.none(src, idx, j0, j1, init, beta, vr, u_row, s_row, thr, subtract)

    def codegen(context, builder, signature, args):
        x, vector_t, align = _panel_sum(context, builder, signature, args)
        beta_p, vr_p, u_p, s_p = (_vector_pointer(context, builder, signature.args[k],
                                                  args[k])[0] for k in (5, 6, 7, 8))
        real = vector_t.element
        thr_v = context.cast(builder, args[9], signature.args[9], signature.args[0].dtype)
        subtract_v = context.cast(builder, args[10], signature.args[10], types.boolean)
        thr_s = ir.Constant(vector_t, ir.Undefined)
        for k in range(NARROW):
            thr_s = builder.insert_element(thr_s, thr_v, ir.Constant(ir.IntType(32), k))
        zero = ir.Constant(vector_t, [ir.Constant(real, 0.0)] * NARROW)
        one = ir.Constant(vector_t, [ir.Constant(real, 1.0)] * NARROW)
        v = builder.fadd(builder.fmul(builder.load(beta_p, align=align),
                                      builder.load(vr_p, align=align)), x)
        u = builder.fsub(v, thr_s)
        spiked = builder.fcmp_ordered(">=", u, zero)
        builder.store(u, u_p, align=align)
        builder.store(builder.select(spiked, one, zero), s_p, align=align)
        reset_to = builder.select(subtract_v, builder.fsub(v, thr_s), zero)
        builder.store(builder.select(spiked, reset_to, v), vr_p, align=align)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def add_to_narrow_rows(typingctx, row, idx, j0, j1, acc):
    """``acc[idx[j]] += row[:16]`` for j in ``j0..j1``, ``acc[n, 16]``: the row kept in
    vector registers (one read-modify-write of 16 values per j). ``acc`` and ``row`` (one
    float dtype, C-contiguous) and ``idx`` (int64) are not bounds-checked; the ``idx[j]``
    are distinct within one call (the active inputs of one row), so no two updates of a
    call chain through memory."""
    if not _narrow_args_ok(acc, row, idx):
        return None
    sig = types.none(row, idx, j0, j1, acc)

    def codegen(context, builder, signature, args):
        row_ptr, align = _vector_pointer(context, builder, signature.args[0], args[0])
        values = builder.load(row_ptr, align=align)
        with _table_rows(context, builder, signature, args, 4) as at:
            builder.store(builder.fadd(builder.load(at, align=align), values), at,
                          align=align)
        return context.get_dummy_value()

    return sig, codegen
