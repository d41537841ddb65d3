#pragma once
// A resumable `diffusiond train` run. Its work directory holds the settings, the progress and
// the latest checkpoint of every part; running again with the same directory continues where the
// last run stopped (killed or out of time), seeing the same batches it would have seen.
#include <c10/core/ScalarType.h>

#include <atomic>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <string>

#include "training/training_settings.h"

namespace dd::training {

struct RunLimits {
  double max_minutes = 0;  // 0 = until done; else stop (with a checkpoint) after it
  int max_steps = 0;       // 0 = until done; else stop (with a checkpoint) after this many steps
  double checkpoint_seconds = 120;          // the most work a crash can lose
  int log_every = 25;                       // steps between progress lines
  const std::atomic<bool>* stop = nullptr;  // set (e.g. by SIGINT) to checkpoint and stop
};

struct RunProgress {
  int vae_step = 0;
  int step = 0;
  int decoder_step = 0;
  int refine_step = 0;
  int detail_step = 0;
  double scaling_factor = 0;  // 0 until the VAE phase is over
  double vae_seconds = 0;
  double diffusion_seconds = 0;
  double decoder_seconds = 0;
  double refine_seconds = 0;
  double detail_seconds = 0;
  // One entry per `run` call: its command and the steps it started from, so the exported model
  // records exactly how it was made, interruptions and changed step counts included.
  nlohmann::json sessions = nlohmann::json::array();
};

class TrainRun {
 public:
  // Opens `work_dir` (creating it) and checks that a run already there has the same settings
  // (step counts may differ); builds the caption tokenizer on first use.
  TrainRun(std::string work_dir, const TrainingSettings& settings);

  // Trains until every phase is done or a limit stops it; true when done. `command` is recorded
  // in the run's history.
  bool run(const RunLimits& limits, std::ostream& log, const std::string& command = "");
  // Writes the averaged model as a diffusers folder (done runs only).
  void export_model(const std::string& out_dir, torch::ScalarType dtype);

  const RunProgress& progress() const { return progress_; }
  bool done() const;

 private:
  void save_state() const;
  std::string path(const std::string& name) const;

  std::string work_dir_;
  TrainingSettings settings_;
  RunProgress progress_;
};

}  // namespace dd::training
