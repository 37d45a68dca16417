"""Vector operations that Numba's loop vectoriser does not find, written as LLVM IR
(``numba.extending.intrinsic``) and inlined into the compiled kernels.

:func:`compress_active` finds the active entries among eight values with one vector
comparison and writes their positions with one table lookup (the "left-pack" of SIMD
stream compaction): no branch on the data and no per-entry loop. LLVM lowers the
eight-lane vectors to whatever the CPU has (two SSE or one AVX2 register of float32, or
AVX2 pairs for float64; NEON on ARM), so the IR is portable.
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


NARROW = 16  # values per row of the narrow-row kernels (a padded row of a narrow layer)


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
    ``[n, 16]``): what both narrow-row kernels loop over."""
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


@intrinsic
def sum_narrow_rows(typingctx, src, idx, j0, j1, acc):
    """``acc[:16] += src[idx[j0]] + ... + src[idx[j1 - 1]]`` for ``src[n, 16]``: the 16
    values kept in vector registers over the whole sum (one load of ``acc`` and one store),
    added in order of ``j``. ``src`` and ``acc`` (one float dtype, C-contiguous; ``src``
    exactly 16 wide, ``acc`` at least 16 long) and ``idx`` (int64) are not bounds-checked."""
    if not _narrow_args_ok(src, acc, idx):
        return None
    sig = types.none(src, idx, j0, j1, acc)

    def codegen(context, builder, signature, args):
        acc_ptr, align = _vector_pointer(context, builder, signature.args[4], args[4])
        total = cgutils.alloca_once_value(builder, builder.load(acc_ptr, align=align))
        with _table_rows(context, builder, signature, args, 0) as at:
            values = builder.load(at, align=align)
            builder.store(builder.fadd(builder.load(total), values), total)
        builder.store(builder.load(total), acc_ptr, align=align)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def add_to_narrow_rows(typingctx, row, idx, j0, j1, acc):
    """``acc[idx[j]] += row[:16]`` for j in ``j0..j1``, ``acc[n, 16]``: the row kept in
    vector registers (one read-modify-write of 16 values per j). Types and bounds as
    :func:`sum_narrow_rows`; the ``idx[j]`` are distinct within one call (the active
    inputs of one row), so no two updates of a call chain through memory."""
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


@intrinsic
def membrane_row_streamed(typingctx, beta, vr, x_row, u_row, s_row, s_copy, thr, subtract):
    """One LIF step over a row, eight neurons per vector, exactly as
    :func:`spikewave.kernels.lif_fused._membrane_row` computes it (``V = beta Vr + x``,
    ``U = V - thr``, ``S = [U >= 0]``, ``Vr = U or 0`` where it spiked, else ``V``; the
    same operations, so the same bits), but ``U`` and ``S`` are written with non-temporal
    stores: straight to memory, without first reading the lines they fill into the cache.
    For outputs read much later (the
    potentials, for the backward pass) or not by this core. ``S`` is also stored the usual
    way into ``s_copy`` (a short row that stays in cache, for the caller to read back at
    once). ``u_row`` and ``s_row`` must start on 32-byte boundaries and the row length be a
    multiple of 8 (the caller checks); all six are 1-D C-contiguous arrays of one float
    dtype. The stores are weakly ordered: call :func:`store_fence` before another thread
    reads them."""
    arrays = (beta, vr, x_row, u_row, s_row, s_copy)
    if not all(isinstance(a, types.Array) and a.layout == "C" and a.ndim == 1
               for a in arrays):
        return None
    if len({a.dtype for a in arrays}) != 1 or beta.dtype not in (types.float32,
                                                                 types.float64):
        return None
    sig = types.none(beta, vr, x_row, u_row, s_row, s_copy, thr, subtract)

    def codegen(context, builder, signature, args):
        ptrs = [context.make_array(t)(context, builder, v).data
                for t, v in zip(signature.args[:6], args[:6], strict=True)]
        beta_p, vr_p, x_p, u_p, s_p, copy_p = ptrs
        vr_array = context.make_array(signature.args[1])(context, builder, args[1])
        n = builder.extract_value(vr_array.shape, 0)
        real = context.get_value_type(signature.args[0].dtype)
        lanes = 8
        vector_t = ir.VectorType(real, lanes)
        width = context.get_abi_sizeof(real)
        thr_v = context.cast(builder, args[6], signature.args[6], signature.args[0].dtype)
        subtract_v = context.cast(builder, args[7], signature.args[7], types.boolean)

        def splat(value):
            vector = ir.Constant(vector_t, ir.Undefined)
            for k in range(lanes):
                vector = builder.insert_element(vector, value, ir.Constant(ir.IntType(32), k))
            return vector

        thr_s, zero_s = splat(thr_v), ir.Constant(vector_t, [ir.Constant(real, 0.0)] * lanes)
        one_s = ir.Constant(vector_t, [ir.Constant(real, 1.0)] * lanes)
        stream = builder.module.add_metadata([ir.Constant(ir.IntType(32), 1)])
        count = builder.udiv(n, ir.Constant(n.type, lanes))
        with cgutils.for_range(builder, count) as loop:
            at = builder.mul(loop.index, ir.Constant(n.type, lanes))

            def at_ptr(p):
                return builder.bitcast(builder.gep(p, [at]), vector_t.as_pointer())

            b = builder.load(at_ptr(beta_p), align=width)
            r = builder.load(at_ptr(vr_p), align=width)
            x = builder.load(at_ptr(x_p), align=width)
            v = builder.fadd(builder.fmul(b, r), x)
            u = builder.fsub(v, thr_s)
            spiked = builder.fcmp_ordered(">=", u, zero_s)
            reset_to = builder.select(subtract_v, builder.fsub(v, thr_s), zero_s)
            spikes = builder.select(spiked, one_s, zero_s)
            store_u = builder.store(u, at_ptr(u_p), align=32)
            store_s = builder.store(spikes, at_ptr(s_p), align=32)
            builder.store(spikes, at_ptr(copy_p), align=width)
            store_u.set_metadata("nontemporal", stream)
            store_s.set_metadata("nontemporal", stream)
            builder.store(builder.select(spiked, reset_to, v), at_ptr(vr_p), align=width)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def store_fence(typingctx):
    """A full memory fence: orders the non-temporal stores before it (of
    :func:`membrane_row_streamed`) before anything after it, so that another thread that
    later synchronises with this one reads their values."""
    sig = types.none()

    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()

    return sig, codegen
