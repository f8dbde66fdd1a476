"""Micro-batching: concurrent requests wait a few milliseconds and run as one batch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any


class MicroBatcher:
    """Runs ``run_batch(items) -> results`` in a worker thread, one batch at a time, and
    hands each caller its result (or the batch's exception).

    A batch is what has queued up while the previous batch ran (up to ``max_size``): an
    idle batcher starts at once, a busy one batches more. ``max_wait`` > 0 additionally
    waits that long for company before starting (a fixed latency cost)."""

    def __init__(
        self,
        run_batch: Callable[[list[Any]], list[Any]],
        max_size: int = 64,
        max_wait: float = 0.0,
        on_batch: Callable[[int], None] | None = None,
    ):
        self.run_batch = run_batch
        self.max_size = max_size
        self.max_wait = max_wait
        self.on_batch = on_batch
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None

    async def submit(self, item: Any) -> Any:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._loop())
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        return await future

    async def _loop(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while self.max_wait > 0 and len(batch) < self.max_size:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            if self.on_batch:
                self.on_batch(len(batch))
            items = [item for item, _ in batch]
            try:
                results = await asyncio.to_thread(self.run_batch, items)
            except Exception:
                if len(batch) == 1:
                    results = None
                else:
                    await self._one_by_one(batch)
                    continue
            if results is None:
                await self._one_by_one(batch)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _one_by_one(self, batch) -> None:
        """A failed batch is retried item by item, so only the failing request fails."""
        for item, future in batch:
            try:
                (result,) = await asyncio.to_thread(self.run_batch, [item])
            except Exception as exc:
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(result)
