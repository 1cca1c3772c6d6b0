package devserver

import (
	"time"

	"go.temporal.io/server/common/dynamicconfig"
)

// applyDevDynamicConfig sets the dev-mode dynamic configuration on dc. Each
// setting says why; BenchmarkOneActivityWorkflow and
// BenchmarkTenSequentialActivities measure the effect against the stock
// configuration (numbers in the package report).
func applyDevDynamicConfig(dc *dynamicconfig.MemoryClient) {
	// The history service's queue readers (transfer: workflow and activity
	// task dispatch to matching; timer; visibility; outbound) are rate
	// limited to 20 loads per second per shard, with a burst of 20. With one
	// shard, as soon as the burst is spent every dispatch waits for the next
	// token: the ~50 ms per task floor. A dev server has nothing to protect.
	for _, s := range []dynamicconfig.GlobalIntSetting{
		dynamicconfig.TransferProcessorMaxPollRPS,
		dynamicconfig.TimerProcessorMaxPollRPS,
		dynamicconfig.VisibilityProcessorMaxPollRPS,
		dynamicconfig.OutboundProcessorMaxPollRPS,
	} {
		dc.OverrideSetting(s, 10000)
	}

	// One matching partition per task queue: with the default four, a task
	// and a poller can land on different partitions and meet only through
	// forwarding to the root partition. A single host gains nothing from
	// partitions.
	dc.OverrideSetting(dynamicconfig.MatchingNumTaskqueueReadPartitions, 1)
	dc.OverrideSetting(dynamicconfig.MatchingNumTaskqueueWritePartitions, 1)

	// A long poll on workflow history (the SDK's run.Get) occasionally misses
	// its wake-up when events arrive in quick succession (the per-waiter
	// notification channel holds one message and drops the rest), and then
	// sleeps for the full interval: 20 s by default, measured here as a
	// 20 s workflow about once in 400 activity dispatches. Bounding the
	// interval bounds the stall; the client simply polls again (a cheap
	// mutable-state read, twice a second per waiting client).
	dc.OverrideSetting(dynamicconfig.HistoryLongPollExpirationInterval, 500*time.Millisecond)

	// As in `temporal server start-dev`: search attributes and Nexus
	// endpoints are visible as soon as they are created, and persistence
	// rate limits are raised to pay for the cache bypass.
	dc.OverrideSetting(dynamicconfig.ForceSearchAttributesCacheRefreshOnRead, true)
	dc.OverrideSetting(dynamicconfig.ForceNexusEndpointRefreshOnRead, true)
	dc.OverrideSetting(dynamicconfig.FrontendPersistenceMaxQPS, 10000)
	dc.OverrideSetting(dynamicconfig.HistoryPersistenceMaxQPS, 45000)

	// A dev server holds a handful of workflows; the default host-level
	// mutable-state cache (128k entries) only costs memory when tests run
	// several servers in one process. 8k is the CLI dev server's value.
	dc.OverrideSetting(dynamicconfig.HistoryCacheHostLevelMaxSize, 8096)

	// The parent-close-policy system worker is started by the worker service
	// but never stopped by it: it would keep polling after Stop. Without it,
	// the history service applies parent close policies itself.
	dc.OverrideSetting(dynamicconfig.EnableParentClosePolicyWorker, false)
}
