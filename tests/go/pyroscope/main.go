// A stand-in for Grafana Pyroscope's ingestion endpoint, for sonde's agent
// tests: it serves Connect's unary `POST /push.v1.PusherService/Push` as
// Pyroscope registers it (pkg/api/api.go, pushv1connect), decodes the
// PushRequest with its own protobuf wire reader (field numbers from
// api/push/v1/push.proto and api/types/v1/types.proto), validates the labels
// as Pyroscope's distributor does (pkg/validation/validate.go: at least one
// label, a valid __name__, service_name required), and answers with Connect's
// status codes and JSON error bodies.
//
// Every accepted profile is written to OUT/NNN.pb (raw_profile as sent) with
// OUT/NNN.json (labels, ID and the request's headers), so the test can read
// them with `go tool pprof`.
//
// Usage: pyroscope OUT [FAIL_FIRST]
// FAIL_FIRST: answer the first N pushes with 503 (to exercise retries).
// Prints "listening on 127.0.0.1:PORT", serves until stdin closes.
package main

import (
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
)

type field struct {
	num  uint64
	wire uint64
	data []byte // for length-delimited fields
}

// fields reads one message's fields (varint and length-delimited only: all
// that these messages use).
func fields(b []byte) ([]field, error) {
	var out []field
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errors.New("bad key varint")
		}
		b = b[n:]
		f := field{num: key >> 3, wire: key & 7}
		switch f.wire {
		case 0:
			_, n = binary.Uvarint(b)
			if n <= 0 {
				return nil, errors.New("bad varint")
			}
			b = b[n:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errors.New("bad length")
			}
			f.data = b[n : n+int(l)]
			b = b[n+int(l):]
		default:
			return nil, fmt.Errorf("unexpected wire type %d", f.wire)
		}
		out = append(out, f)
	}
	return out, nil
}

type sample struct {
	raw []byte
	id  string
}

type series struct {
	labels  [][2]string
	samples []sample
}

func decodePush(body []byte) ([]series, error) {
	top, err := fields(body)
	if err != nil {
		return nil, err
	}
	var out []series
	for _, f := range top {
		if f.num != 1 || f.wire != 2 { // PushRequest.series = 1
			continue
		}
		sf, err := fields(f.data)
		if err != nil {
			return nil, err
		}
		var s series
		for _, g := range sf {
			switch g.num {
			case 1: // RawProfileSeries.labels = 1: LabelPair{name = 1, value = 2}
				lf, err := fields(g.data)
				if err != nil {
					return nil, err
				}
				var name, value string
				for _, h := range lf {
					if h.num == 1 {
						name = string(h.data)
					} else if h.num == 2 {
						value = string(h.data)
					}
				}
				s.labels = append(s.labels, [2]string{name, value})
			case 2: // RawProfileSeries.samples = 2: RawSample{raw_profile = 1, ID = 2}
				rf, err := fields(g.data)
				if err != nil {
					return nil, err
				}
				var smp sample
				for _, h := range rf {
					if h.num == 1 {
						smp.raw = h.data
					} else if h.num == 2 {
						smp.id = string(h.data)
					}
				}
				s.samples = append(s.samples, smp)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// validate mirrors the checks of Pyroscope's ValidateLabels that a client
// can trip.
func validate(s series) error {
	if len(s.labels) == 0 {
		return errors.New("error at least one label pair is required per profile")
	}
	var name, service string
	for _, l := range s.labels {
		switch l[0] {
		case "__name__":
			name = l[1]
		case "service_name":
			service = l[1]
		}
	}
	if !metricName.MatchString(name) {
		return fmt.Errorf("invalid labels '%v' with error: invalid metric name", s.labels)
	}
	if service == "" {
		return errors.New("invalid labels: service name is not provided")
	}
	return nil
}

func connectError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func main() {
	out := os.Args[1]
	failFirst := 0
	if len(os.Args) > 2 {
		failFirst, _ = strconv.Atoi(os.Args[2])
	}
	var mu sync.Mutex
	pushes, saved := 0, 0
	http.HandleFunc("/push.v1.PusherService/Push", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		pushes++
		if r.Method != http.MethodPost {
			connectError(w, http.StatusMethodNotAllowed, "unimplemented", "POST only")
			return
		}
		if pushes <= failFirst {
			connectError(w, http.StatusServiceUnavailable, "unavailable", "ingester not ready")
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/proto" {
			connectError(w, http.StatusUnsupportedMediaType, "invalid_argument", "unsupported content type "+ct)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			gz, err := gzip.NewReader(r.Body)
			if err != nil {
				connectError(w, http.StatusBadRequest, "invalid_argument", "gzip: "+err.Error())
				return
			}
			body = gz
		}
		data, err := io.ReadAll(body)
		if err != nil {
			connectError(w, http.StatusBadRequest, "invalid_argument", err.Error())
			return
		}
		all, err := decodePush(data)
		if err != nil {
			connectError(w, http.StatusBadRequest, "invalid_argument", "decoding PushRequest: "+err.Error())
			return
		}
		for _, s := range all {
			if err := validate(s); err != nil {
				connectError(w, http.StatusBadRequest, "invalid_argument", err.Error())
				return
			}
		}
		for _, s := range all {
			for _, smp := range s.samples {
				saved++
				base := filepath.Join(out, fmt.Sprintf("%03d", saved))
				os.WriteFile(base+".pb", smp.raw, 0o644)
				labels := map[string]string{}
				for _, l := range s.labels {
					labels[l[0]] = l[1]
				}
				meta, _ := json.Marshal(map[string]interface{}{
					"labels":        labels,
					"id":            smp.id,
					"authorization": r.Header.Get("Authorization"),
					"tenant":        r.Header.Get("X-Scope-OrgID"),
					"push":          pushes,
				})
				os.WriteFile(base+".json", meta, 0o644)
			}
		}
		// PushResponse{} in the request's codec: no bytes.
		w.Header().Set("Content-Type", "application/proto")
		w.WriteHeader(http.StatusOK)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	http.Serve(ln, nil)
}
