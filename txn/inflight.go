package txn

import "sync"

// inFlightSet holds the ids of the transactions a Coordinator is
// committing, from before the first PREPARE until Commit returns, so that
// the router's own recovery leaves them alone.
type inFlightSet struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

func (s *inFlightSet) add(txid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = map[string]struct{}{}
	}
	s.ids[txid] = struct{}{}
}

func (s *inFlightSet) remove(txid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ids, txid)
}

func (s *inFlightSet) contains(txid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[txid]
	return ok
}

func (s *inFlightSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}
