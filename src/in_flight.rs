//! The in-flight engine: a slab of pinned futures, each slot with one reusable waker that marks
//! the slot in a ready bitmap. Every local set of futures in the crate runs on it: the fan-out
//! adapters and the local `ErrGroup`'s driver.
//!
//! Each future lives in its slot, pinned in place: the slots sit in chunks of doubling size,
//! each allocated once at its full capacity, which never grow or move (see [`pinned`]). A new
//! future is written into a free slot in place (`Pin::set`), so the set allocates once per
//! chunk, never per item or per slot, and a poll reads the future where the slot is rather than
//! through a box of its own.
//!
//! A slot's waker is no allocation of its own either: it points into the page (an `Arc`, one
//! per `BITS` slots) that holds the slots' word of the bitmap, at the slot's bit, and the driver
//! polls with it borrowed (no count taken); a future that keeps it clones it, which counts the
//! page (a `RawWaker`, in [`slot_waker`]).
//!
//! Those two are the module's `unsafe`. They save, per slot, the allocation of a box for the
//! future and of an `Arc` for its waker, a free of each and three atomic operations: a set of
//! 10 000 pending futures paid all of that 10 000 times.
//!
//! A wake-up is one `fetch_or` on the word of the slot's bit. Only the first wake-up of a word
//! since the driver last emptied it calls the parent (the task polling the stream), and the
//! parent's waker is only registered when the driver is about to return `Pending` (and taken by
//! the first wake-up after), so futures that wake themselves while the driver polls them cost at
//! most one wake-up of the parent per `Pending`, usually none.
//!
//! The parent is shared with whoever else must wake the driver ([`Parent::notify`]: the error
//! group's spawns and its spawned jobs' reports), so the driver registers one waker, once.

use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::supervise::Payload;
use std::pin::Pin;
// The slots' raw wakers count std's `Arc`; the shared state it points at is on the loom switch.
use std::sync::Arc as StdArc;
use std::task::{Context, Poll, Waker};

use crate::sync::{lock, AtomicBool, AtomicUsize, Mutex, Ordering};

/// Slots per word of the ready bitmap.
const BITS: usize = usize::BITS as usize;

/// A set of running futures, polled when woken, each with a tag the caller gets back with its
/// output (a sequence number, a permit, or nothing).
///
/// The futures live in the slots themselves, pinned in place: the slots sit in chunks of
/// `chunk` slots whose buffers are allocated once, at their full capacity, and never grow,
/// move or give a slot up before the set drops (see [`pinned`]). So a set allocates per
/// chunk, not per future or per slot.
pub(crate) struct InFlight<Fut, Tag> {
    /// The slots, in chunks of `chunk`, `2 * chunk`, `4 * chunk`, ... slots (see `locate`):
    /// few chunks however many slots, as with a `Vec`'s doubling, but none ever moves.
    chunks: Vec<Vec<Slot<Fut, Tag>>>,
    /// Slots in the first chunk: a power of two (sized to the set's limit, if it has one).
    chunk: usize,
    /// `chunk`'s logarithm.
    shift: u32,
    /// Slots made so far (all chunks but the last are full).
    slots: usize,
    /// Empty slots, reused last-freed first (its memory is warm).
    free: Vec<usize>,
    len: usize,
    /// One page (a word of the bitmap) per `BITS` slots, shared with the slots' wakers.
    words: Vec<StdArc<Word>>,
    /// Woken slots taken from `words` and not yet polled, one word per entry.
    taken: Vec<usize>,
    /// The lowest index of `taken` that may be non-zero.
    cursor: usize,
    parent: StdArc<Parent>,
}

struct Slot<Fut, Tag> {
    /// Pinned in place once it holds a future; reached through [`pinned`] only.
    future: Option<Fut>,
    tag: Option<Tag>,
}

/// The future of `slot`, pinned where it is.
#[allow(unsafe_code)]
fn pinned<Fut, Tag>(slot: &mut Slot<Fut, Tag>) -> Pin<&mut Option<Fut>> {
    // SAFETY: a slot lives in a chunk's buffer, which is allocated at its full capacity when
    // the chunk is made (`InFlight::new_slot` pushes only below it, so the buffer never
    // reallocates), and is freed only when the set drops, dropping every slot in place first.
    // Moving the outer `Vec` of chunks moves the chunks' headers, not their buffers. Nothing
    // moves `slot.future` out, swaps or replaces it except through this pin (`Pin::set` drops
    // the old value in place). So the future is never moved from here until it is dropped,
    // which is the pinning contract.
    unsafe { Pin::new_unchecked(&mut slot.future) }
}

/// Where the slots' wakers find the task that polls the set (the parent); others wake it with
/// [`notify`](Self::notify).
pub(crate) struct Parent {
    waker: Mutex<Option<Waker>>,
    /// A notification from outside the set, not yet taken by the driver.
    notified: AtomicBool,
}

/// A word of the ready bitmap, the page of its `BITS` slots' wakers: bit `i` set means slot
/// `index * BITS + i` was woken. Aligned to `BITS` bytes so that a slot's waker can be the
/// page's address plus its bit's index (see [`slot_waker`]); that also keeps two pages' words
/// off one cache line.
#[repr(align(64))]
struct Word {
    bits: AtomicUsize,
    parent: StdArc<Parent>,
}

impl Word {
    /// Marks slot `bit` (an index) woken.
    fn wake(&self, bit: usize) {
        // AcqRel: the release publishes whatever the waking side did before it to the driver
        // that takes the word (with `swap`, acquire); nothing else is published through it.
        let before = self.bits.fetch_or(1 << bit, Ordering::AcqRel);
        // Only the first wake-up since the driver emptied the word needs to reach the parent:
        // the driver takes every bit of the word at once, so the later ones are seen with it.
        if before == 0 {
            self.parent.wake();
        }
    }
}

/// The slots' wakers: a data pointer of `page + bit` (a `Word` is aligned to `BITS`, so the
/// bit is the address modulo `BITS`), counted on the page's `Arc`.
#[allow(unsafe_code)]
mod slot_waker {
    use super::{StdArc, Word, BITS};
    use std::marker::PhantomData;
    use std::mem::ManuallyDrop;
    use std::task::{RawWaker, RawWakerVTable, Waker};

    // The bit must fit in the alignment's low address bits, and `page + bit` inside the page.
    const _: () = assert!(std::mem::align_of::<Word>() >= BITS);

    // The wakers may be used from any thread, so the page they point at must be shareable
    // across threads (the raw pointer hides that from the compiler).
    const _: fn() = || {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Word>();
    };

    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

    /// The waker of slot `bit` of `page`, borrowed: it takes no count, and its lifetime ties
    /// it to `page` (the compiler keeps it from outliving the page). Cloning it counts.
    pub(super) fn borrowed(page: &StdArc<Word>, bit: usize) -> WakerRef<'_> {
        debug_assert!(bit < BITS);
        // `wrapping_add` on the pointer `as_ptr` gives keeps its provenance (the whole
        // allocation); `page + bit` is inside the page, whose size is a multiple of `BITS`.
        let data = StdArc::as_ptr(page)
            .cast::<u8>()
            .wrapping_add(bit)
            .cast::<()>();
        // SAFETY: `VTABLE`'s functions uphold the `RawWaker` contract for this data pointer:
        // it points `bit` bytes into a live `Word` of an `Arc` (`page`, borrowed for as long
        // as the `WakerRef` lives, and a strong count of its own in every clone), they are
        // thread-safe (atomics only, and `Word` is `Send + Sync`, checked above), and they
        // count that `Arc` exactly (clone +1, wake and drop -1, wake_by_ref 0). The
        // `ManuallyDrop` keeps this borrowed one from giving back the count it never took.
        let waker = ManuallyDrop::new(unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) });
        WakerRef {
            waker,
            _page: PhantomData,
        }
    }

    /// A slot's waker borrowed from its page (see [`borrowed`]).
    pub(super) struct WakerRef<'a> {
        waker: ManuallyDrop<Waker>,
        _page: PhantomData<&'a StdArc<Word>>,
    }

    impl std::ops::Deref for WakerRef<'_> {
        type Target = Waker;

        fn deref(&self) -> &Waker {
            &self.waker
        }
    }

    /// The page and the bit of a data pointer made by `borrowed` (or a clone of it).
    fn split(data: *const ()) -> (*const Word, usize) {
        let bit = data as usize % BITS;
        (data.cast::<u8>().wrapping_sub(bit).cast::<Word>(), bit)
    }

    unsafe fn clone(data: *const ()) -> RawWaker {
        let (page, _) = split(data);
        // SAFETY: `page` is the pointer `Arc::as_ptr` gave for a page that is alive: the waker
        // being cloned holds a count or borrows the set's (futures-task's `waker_ref` counts
        // the same way). The new waker owns the count taken here.
        unsafe { StdArc::increment_strong_count(page) };
        RawWaker::new(data, &VTABLE)
    }

    unsafe fn wake(data: *const ()) {
        // SAFETY: a waker's contract: `data` came from `borrowed` and the waker is live.
        unsafe {
            wake_by_ref(data);
            drop_waker(data);
        }
    }

    unsafe fn wake_by_ref(data: *const ()) {
        let (page, bit) = split(data);
        // SAFETY: the waker is live, so the page is (see `clone`); a shared reference to it
        // is all `Word::wake` takes (atomics and a lock).
        unsafe { (*page).wake(bit) };
    }

    unsafe fn drop_waker(data: *const ()) {
        let (page, _) = split(data);
        // SAFETY: only clones reach here (the borrowed waker is never dropped), and each owns
        // one strong count of the page, given back once, here.
        unsafe { StdArc::decrement_strong_count(page) };
    }
}

impl Parent {
    pub(crate) fn new() -> Self {
        Self {
            waker: Mutex::new(None),
            notified: AtomicBool::new(false),
        }
    }

    /// Wakes the driver for something outside the set (a spawn, a report): remembered until
    /// [`take_notified`](Self::take_notified), so a driver that registers and then takes it
    /// misses none.
    pub(crate) fn notify(&self) {
        // Release: what the notifier did before is seen by the driver that takes the flag.
        self.notified.store(true, Ordering::Release);
        self.wake();
    }

    /// Whether a notification came since the last call.
    pub(crate) fn take_notified(&self) -> bool {
        // A load first: no write to the line when nothing came. Acquire: pairs with `notify`.
        self.notified.load(Ordering::Relaxed) && self.notified.swap(false, Ordering::Acquire)
    }

    fn wake(&self) {
        // The lock orders this against `register`: either the driver's look at the words after
        // registering sees our bit, or we see its waker here.
        let waker = lock(&self.waker).take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Leaves `waker` to be woken by the next wake-up of a slot or notification. Register, then
    /// look (at the slots' words, at `take_notified`): the look after registering is the one
    /// that counts.
    pub(crate) fn register(&self, waker: &Waker) {
        let old = {
            let mut slot = lock(&self.waker);
            match &*slot {
                Some(w) if w.will_wake(waker) => None,
                _ => slot.replace(waker.clone()),
            }
        };
        drop(old); // executor code, outside the lock
    }
}

impl<Fut, Tag> InFlight<Fut, Tag> {
    /// A set with its own parent, for any number of futures (the tests' set).
    #[cfg(test)]
    pub(crate) fn new() -> Self {
        Self::with_parent(StdArc::new(Parent::new()))
    }

    /// A set with its own parent, for up to about `limit` futures at once (it sizes the
    /// chunks: a stream with a limit of 4 does not allocate room for 64 futures).
    pub(crate) fn for_limit(limit: usize) -> Self {
        let mut set = Self::with_parent(StdArc::new(Parent::new()));
        set.chunk = limit.clamp(1, BITS).next_power_of_two();
        set.shift = set.chunk.trailing_zeros();
        debug_assert_eq!(set.chunk, 1 << set.shift);
        set
    }

    /// A set whose slots wake `parent`, which others may notify too.
    pub(crate) fn with_parent(parent: StdArc<Parent>) -> Self {
        Self {
            chunks: Vec::new(),
            chunk: BITS,
            shift: BITS.trailing_zeros(),
            slots: 0,
            free: Vec::new(),
            len: 0,
            words: Vec::new(),
            taken: Vec::new(),
            cursor: 0,
            parent,
        }
    }

    /// Sizes the first chunk for `additional` futures about to start (the first batch of a
    /// group), so that they all take the one-chunk fast path; only before the first push.
    pub(crate) fn reserve(&mut self, additional: usize) {
        if self.slots == 0 && additional > self.chunk {
            // `checked_`: a wrapped size of 0 would make chunks without room (found in review;
            // no caller asks for that many, but the pinning must not depend on it).
            if let Some(chunk) = additional.checked_next_power_of_two() {
                self.chunk = chunk;
                self.shift = chunk.trailing_zeros();
            }
        }
    }

    /// How many futures are running.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk and the place in it of slot `index`: chunk `k` holds `chunk << k` slots,
    /// from `(2^k - 1) * chunk` on.
    #[inline]
    fn locate(&self, index: usize) -> (usize, usize) {
        if index < self.chunk {
            // Every slot of a set that stays within its limit.
            return (0, index);
        }
        let q = (index >> self.shift) + 1;
        let k = (usize::BITS - 1 - q.leading_zeros()) as usize;
        (k, index - (((1 << k) - 1) << self.shift))
    }

    fn slot(&mut self, index: usize) -> &mut Slot<Fut, Tag> {
        let (k, at) = self.locate(index);
        &mut self.chunks[k][at]
    }

    /// Makes slot `index == self.slots`, holding `future` and `tag`.
    fn new_slot(&mut self, future: Fut, tag: Tag) -> usize {
        let index = self.slots;
        if index % BITS == 0 {
            self.words.push(StdArc::new(Word {
                bits: AtomicUsize::new(0),
                parent: self.parent.clone(),
            }));
            self.taken.push(0);
        }
        let (k, at) = self.locate(index);
        if at == 0 {
            // At its full capacity at once: it never grows, so its slots never move.
            debug_assert_eq!(k, self.chunks.len());
            self.chunks.push(Vec::with_capacity(self.chunk << k));
        }
        let chunk = &mut self.chunks[k];
        debug_assert!(chunk.len() < chunk.capacity(), "a push that reallocates");
        chunk.push(Slot {
            future: Some(future),
            tag: Some(tag),
        });
        self.slots += 1;
        index
    }

    /// Drops every running future, each inside a catch; returns how many there were and the
    /// payloads of those whose drop code panicked. Their tags are dropped.
    pub(crate) fn clear(&mut self) -> (usize, Vec<Payload>) {
        let mut dropped = 0;
        let mut panics = Vec::new();
        for index in 0..self.slots {
            let slot = self.slot(index);
            if slot.tag.take().is_some() {
                dropped += 1;
                let mut future = pinned(slot);
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| future.set(None))) {
                    panics.push(payload);
                }
                self.free.push(index);
            }
        }
        self.len = 0;
        (dropped, panics)
    }
}

impl<Fut: Future, Tag> InFlight<Fut, Tag> {
    /// Adds `future` and polls it once; returns its output at once if it is already done.
    ///
    /// If the future panics, it leaves the set, `lost` gets its tag, and the panic resumes.
    pub(crate) fn push(
        &mut self,
        future: Fut,
        tag: Tag,
        lost: &mut impl FnMut(Tag),
    ) -> Option<(Tag, Fut::Output)> {
        let index = match self.free.pop() {
            Some(index) => {
                let slot = self.slot(index);
                slot.tag = Some(tag);
                pinned(slot).set(Some(future));
                index
            }
            None => self.new_slot(future, tag),
        };
        self.len += 1;
        self.poll_slot(index, lost)
    }

    /// Polls woken futures until one finishes, and returns its tag and output.
    ///
    /// `Ready(None)` when the set is empty. Each poll of a future spends one unit of `budget`;
    /// when it runs out the task is woken and `Pending` returned, so a future that keeps waking
    /// itself cannot keep the caller's task from yielding to its executor. A panicking future is
    /// handled as in [`push`](Self::push).
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        budget: &mut usize,
        lost: &mut impl FnMut(Tag),
    ) -> Poll<Option<(Tag, Fut::Output)>> {
        let mut registered = false;
        loop {
            while let Some(index) = self.next_taken() {
                // A late wake-up of a finished slot: free, costs no budget. (The tag says
                // whether the slot runs a future; looking at the future itself would take a
                // shared reference to a pinned, possibly self-borrowing future.)
                if self.slot(index).tag.is_none() {
                    continue;
                }
                if *budget == 0 {
                    // Put the slot back for the next call, and come back soon.
                    self.taken[index / BITS] |= 1 << (index % BITS);
                    self.cursor = self.cursor.min(index / BITS);
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                *budget -= 1;
                if let Some(done) = self.poll_slot(index, lost) {
                    return Poll::Ready(Some(done));
                }
            }
            if self.len == 0 {
                return Poll::Ready(None);
            }
            if self.take_words() {
                continue;
            }
            if registered {
                return Poll::Pending;
            }
            // Register, then look at the words once more: the look after registering is the
            // one that counts (a wake-up before it left its bit; one after it finds the waker).
            self.parent.register(cx.waker());
            registered = true;
        }
    }

    /// Polls the future in slot `index`, if there is one; returns its output if it finished,
    /// after dropping it (its drop code runs before anyone sees the output).
    fn poll_slot(
        &mut self,
        index: usize,
        lost: &mut impl FnMut(Tag),
    ) -> Option<(Tag, Fut::Output)> {
        let (k, at) = self.locate(index);
        let slot = &mut self.chunks[k][at];
        let mut future = pinned(slot);
        // `None`: a late wake-up for a slot whose future already finished.
        let running = future.as_mut().as_pin_mut()?;
        // Borrowed from the page, which `self.words` holds for longer than this poll.
        let waker = slot_waker::borrowed(&self.words[index / BITS], index % BITS);
        let polled = catch_unwind(AssertUnwindSafe(|| {
            running.poll(&mut Context::from_waker(&waker))
        }));
        let polled = match polled {
            Ok(polled) => polled,
            Err(payload) => {
                // The panicked future leaves the set, so a stream polled again goes on without
                // it (and can end). A second panic from its drop code is not the story.
                let _ = catch_unwind(AssertUnwindSafe(|| future.set(None)));
                let tag = slot.tag.take().expect("a running slot has a tag");
                self.len -= 1;
                self.free.push(index);
                lost(tag);
                resume_unwind(payload);
            }
        };
        let Poll::Ready(output) = polled else {
            return None;
        };
        // Books first, so a panicking drop leaves the set consistent.
        let tag = slot.tag.take().expect("a running slot has a tag");
        self.len -= 1;
        self.free.push(index);
        pinned(slot).set(None);
        Some((tag, output))
    }

    /// The next woken slot taken from the words, lowest index first.
    fn next_taken(&mut self) -> Option<usize> {
        while let Some(word) = self.taken.get_mut(self.cursor) {
            if *word != 0 {
                let bit = word.trailing_zeros() as usize;
                *word &= *word - 1;
                return Some(self.cursor * BITS + bit);
            }
            self.cursor += 1;
        }
        None
    }

    /// Takes the woken slots out of the shared words; returns whether there were any.
    fn take_words(&mut self) -> bool {
        let mut any = false;
        for (word, taken) in self.words.iter().zip(&mut self.taken) {
            // A load first: an empty word is left alone (no write to its cache line).
            if word.bits.load(Ordering::Relaxed) != 0 {
                // Acquire: pairs with the wakers' `fetch_or`.
                *taken |= word.bits.swap(0, Ordering::AcqRel);
                any = true;
            }
        }
        self.cursor = 0;
        any
    }
}

impl<Fut, Tag> fmt::Debug for InFlight<Fut, Tag> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InFlight").field("len", &self.len).finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use futures::task::noop_waker_ref;
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    use std::task::Wake;

    /// Ready on its second poll, waking itself on the first (a yield).
    struct YieldOnce(bool, usize);

    impl Future for YieldOnce {
        type Output = usize;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            if std::mem::replace(&mut self.0, true) {
                Poll::Ready(self.1)
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    struct Count(StdAtomicUsize);
    impl Wake for Count {
        fn wake(self: StdArc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn never_lost(_: usize) {
        unreachable!("no future here panics")
    }

    #[test]
    fn a_ready_future_comes_back_from_push_and_its_slot_is_reused() {
        let mut set = InFlight::<std::future::Ready<usize>, usize>::new();
        assert_eq!(
            set.push(std::future::ready(7), 0, &mut never_lost),
            Some((0, 7))
        );
        assert_eq!(
            set.push(std::future::ready(8), 1, &mut never_lost),
            Some((1, 8))
        );
        assert!(set.is_empty());
        assert_eq!(set.slots, 1, "one slot, reused");
    }

    #[test]
    fn woken_futures_finish_and_the_set_ends_empty() {
        let mut set = InFlight::new();
        for i in 0..100 {
            assert!(set.push(YieldOnce(false, i), i, &mut never_lost).is_none());
        }
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut seen = Vec::new();
        let mut budget = usize::MAX;
        while let Poll::Ready(Some((tag, out))) =
            set.poll_next(&mut cx, &mut budget, &mut never_lost)
        {
            assert_eq!(tag, out);
            seen.push(out);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        assert!(matches!(
            set.poll_next(&mut cx, &mut budget, &mut never_lost),
            Poll::Ready(None)
        ));
    }

    #[test]
    fn a_spent_budget_wakes_the_caller_and_keeps_the_woken_slot() {
        let mut set = InFlight::new();
        for i in 0..3 {
            assert!(set.push(YieldOnce(false, i), i, &mut never_lost).is_none());
        }
        let count = StdArc::new(Count(StdAtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let mut budget = 1;
        assert!(matches!(
            set.poll_next(&mut cx, &mut budget, &mut never_lost),
            Poll::Ready(Some(_))
        ));
        assert!(set
            .poll_next(&mut cx, &mut budget, &mut never_lost)
            .is_pending());
        assert_eq!(
            count.0.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "woken to come back"
        );
        let mut budget = 10;
        let mut rest = 0;
        while let Poll::Ready(Some(_)) = set.poll_next(&mut cx, &mut budget, &mut never_lost) {
            rest += 1;
        }
        assert_eq!(rest, 2, "the slots left over were kept, not lost");
    }

    #[test]
    fn a_notification_wakes_a_registered_parent_once_and_is_taken_once() {
        let parent = StdArc::new(Parent::new());
        let count = StdArc::new(Count(StdAtomicUsize::new(0)));
        parent.register(&Waker::from(count.clone()));
        parent.notify();
        parent.notify(); // the waker was taken by the first
        assert_eq!(count.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(parent.take_notified());
        assert!(!parent.take_notified());
    }

    /// Pending until its flag is set; keeps a clone of every waker it is polled with.
    struct Keeps(
        StdArc<std::sync::Mutex<Vec<Waker>>>,
        StdArc<std::sync::atomic::AtomicBool>,
    );

    impl Future for Keeps {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            self.0.lock().unwrap().push(cx.waker().clone());
            if self.1.load(std::sync::atomic::Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }

    #[test]
    fn slot_wakers_kept_by_futures_wake_their_own_slot_and_outlive_the_set() {
        let kept = StdArc::new(std::sync::Mutex::new(Vec::new()));
        let ready = StdArc::new(std::sync::atomic::AtomicBool::new(false));
        let mut set = InFlight::new();
        // Two pages' worth, so that slots of the second page are woken too.
        let n = BITS + 3;
        for i in 0..n {
            let future = Keeps(kept.clone(), ready.clone());
            assert!(set.push(future, i, &mut never_lost).is_none());
        }
        let wakers = std::mem::take(&mut *kept.lock().unwrap());
        assert_eq!(wakers.len(), n);
        // Every slot's waker is its own, and a clone is the same waker.
        for (i, waker) in wakers.iter().enumerate() {
            assert!(waker.will_wake(&waker.clone()));
            assert!(!waker.will_wake(&wakers[(i + 1) % n]));
        }
        ready.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake two slots, one on each page, by value and by reference: those two are polled.
        wakers[BITS + 1].wake_by_ref();
        let by_value = wakers[2].clone(); // a count of its own, given back by `wake`
        by_value.wake();
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut budget = usize::MAX;
        let mut done = Vec::new();
        while let Poll::Ready(Some((tag, ()))) =
            set.poll_next(&mut cx, &mut budget, &mut never_lost)
        {
            done.push(tag);
        }
        assert_eq!(
            done,
            [2, BITS + 1],
            "the woken slots, lowest first, and no other"
        );
        drop(set);
        // The pages outlive the set while wakers point at them: waking is harmless, and the
        // last drop frees them (Miri checks both).
        for waker in &wakers {
            waker.wake_by_ref();
        }
        drop(wakers);
        drop(std::mem::take(&mut *kept.lock().unwrap()));
    }

    /// Pending three times, checking on each poll that it was not moved since the first:
    /// what a self-borrowing `async` block relies on.
    struct StaysPut {
        at: Option<usize>,
        polls: usize,
        value: usize,
    }

    impl Future for StaysPut {
        type Output = usize;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
            // It is `Unpin` (so this test needs no `unsafe`), but the set does not know that:
            // it keeps every future where it first polled it.
            let this = self.get_mut();
            let here = &*this as *const Self as usize;
            assert_eq!(*this.at.get_or_insert(here), here, "a pinned future moved");
            this.polls += 1;
            if this.polls == 4 {
                Poll::Ready(this.value)
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    #[test]
    fn slots_map_onto_doubling_chunks_one_after_the_other() {
        for first in [1, 4, 64, 1024] {
            let mut set = InFlight::<std::future::Ready<()>, ()>::new();
            set.reserve(first);
            assert_eq!(set.chunk, first.max(BITS));
            let mut expected = (0, 0);
            for index in 0..20 * set.chunk {
                assert_eq!(set.locate(index), expected, "slot {index}");
                expected.1 += 1;
                if expected.1 == set.chunk << expected.0 {
                    expected = (expected.0 + 1, 0);
                }
            }
        }
    }

    #[test]
    fn a_reservation_too_large_for_a_power_of_two_leaves_the_chunks_as_they_were() {
        let mut set = InFlight::<std::future::Ready<usize>, usize>::new();
        set.reserve(usize::MAX);
        assert_eq!(set.chunk, BITS);
        assert_eq!(
            set.push(std::future::ready(1), 1, &mut never_lost),
            Some((1, 1))
        );
    }

    #[test]
    fn futures_stay_where_they_were_first_polled_as_the_set_grows_by_chunks() {
        // Chunks of 4, 8, 16, ...: 300 futures make 7 chunks, and the list of chunks
        // reallocates under them.
        let mut set = InFlight::for_limit(3);
        assert_eq!(set.chunk, 4);
        for i in 0..300 {
            let future = StaysPut {
                at: None,
                polls: 0,
                value: i,
            };
            assert!(set.push(future, i, &mut never_lost).is_none());
        }
        let mut cx = Context::from_waker(noop_waker_ref());
        let mut budget = usize::MAX;
        let mut seen = Vec::new();
        while let Poll::Ready(Some((tag, value))) =
            set.poll_next(&mut cx, &mut budget, &mut never_lost)
        {
            assert_eq!(tag, value);
            seen.push(value);
            if value % 7 == 0 {
                // Reuse a freed slot while the others are still running.
                let again = StaysPut {
                    at: None,
                    polls: 0,
                    value: 1000 + value,
                };
                assert!(set.push(again, 1000 + value, &mut never_lost).is_none());
            }
        }
        seen.sort_unstable();
        let mut expected: Vec<usize> = (0..300).collect();
        expected.extend((0..300).filter(|v| v % 7 == 0).map(|v| 1000 + v));
        expected.sort_unstable();
        assert_eq!(seen, expected);
        assert_eq!(set.slots, 300, "the re-pushed futures reused freed slots");
    }

    #[test]
    fn clear_drops_every_running_future_and_catches_a_panicking_drop() {
        struct PanicsOnDrop;
        impl Future for PanicsOnDrop {
            type Output = ();
            fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
                Poll::Pending
            }
        }
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                panic!("drop code");
            }
        }
        let mut set = InFlight::new();
        for i in 0..3 {
            assert!(set.push(PanicsOnDrop, i, &mut never_lost).is_none());
        }
        let (dropped, panics) = set.clear();
        assert_eq!((dropped, panics.len()), (3, 3));
        assert!(set.is_empty());
        assert!(
            set.push(PanicsOnDrop, 9, &mut never_lost).is_none(),
            "slots reused"
        );
        let _ = set.clear();
    }
}

/// The engine's wake-up core under loom, once for every set of futures that runs on it.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;

    /// A notification (a spawn, a report) racing the driver as it registers: the driver either
    /// takes it or is woken for it.
    #[test]
    fn a_notification_racing_the_driver_registering_is_never_lost() {
        loom::model(|| {
            let parent = StdArc::new(Parent::new());
            let notifier = {
                let parent = parent.clone();
                loom::thread::spawn(move || parent.notify())
            };
            loom::future::block_on(std::future::poll_fn(|cx| {
                if parent.take_notified() {
                    return Poll::Ready(());
                }
                parent.register(cx.waker());
                if parent.take_notified() {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }));
            notifier.join().unwrap();
        });
    }

    /// A slot's wake-up racing the driver as it registers: the driver polls the slot again.
    #[test]
    fn a_slot_wakeup_racing_the_driver_registering_is_never_lost() {
        use crate::sync::{AtomicBool, Ordering as LoomOrdering};

        /// Ready once `ready` is set; records the waker otherwise.
        struct Gate(StdArc<(AtomicBool, Mutex<Option<Waker>>)>);
        impl Future for Gate {
            type Output = ();
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
                if self.0 .0.load(LoomOrdering::Acquire) {
                    return Poll::Ready(());
                }
                *lock(&self.0 .1) = Some(cx.waker().clone());
                if self.0 .0.load(LoomOrdering::Acquire) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }
        }

        loom::model(|| {
            let gate = StdArc::new((AtomicBool::new(false), Mutex::new(None::<Waker>)));
            let mut set = InFlight::new();
            let lost = &mut |_: ()| unreachable!();
            assert!(set.push(Gate(gate.clone()), (), lost).is_none());
            let opener = {
                let gate = gate.clone();
                loom::thread::spawn(move || {
                    gate.0.store(true, LoomOrdering::Release);
                    let waker = lock(&gate.1).take();
                    if let Some(waker) = waker {
                        waker.wake();
                    }
                })
            };
            let mut budget = usize::MAX;
            let done = loom::future::block_on(std::future::poll_fn(|cx| {
                set.poll_next(cx, &mut budget, &mut |_: ()| unreachable!())
            }));
            assert!(done.is_some());
            opener.join().unwrap();
        });
    }
}
