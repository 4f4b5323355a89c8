//! A ranker on the GPU: a GGUF ranker's weights on the device, its tokenizer, identifiers and
//! prompt settings on the host, and [`RankBackend`] so that alro-core's driver ranks with it
//! (greedy, single and bootstrap) by exactly the rule it ranks with on the CPU. The browser
//! package and native `alro rank --backend wgpu` both load through [`GpuRanker::load`].

use crate::{GpuContext, GpuError, GpuInfo, GpuModel, GpuSequence, Result};
use alro_core::gguf::GgufFile;
use alro_core::identifiers::Identifiers;
use alro_core::model::{check_vocab, LlamaConfig, ModelInfo};
use alro_core::model_card::ModelCard;
use alro_core::prompt::PromptConfig;
use alro_core::rank::{self, PreparedPrompt, RankBackend, RankMode};
use alro_core::request::{RankRequest, RankResponse};
use alro_core::tokenizer::Tokenizer;

pub struct GpuRanker {
    ctx: GpuContext,
    model: GpuModel,
    tokenizer: Tokenizer,
    config: LlamaConfig,
    pub identifiers: Identifiers,
    /// The prompt the model was trained with (its `alro.*` card, else the defaults); callers
    /// may change what is shown (`max_history`) before ranking.
    pub prompt: PromptConfig,
    pub info: ModelInfo,
}

impl GpuRanker {
    /// Parses `bytes` (a GGUF file; `source_name` is what errors call it) and uploads its
    /// weights to `ctx`'s device. The same checks and settings as the CPU's `Backbone` +
    /// `Ranker::new`: vocabulary against the embedding, identifiers from the card.
    pub async fn load(ctx: GpuContext, bytes: &[u8], source_name: &str) -> Result<GpuRanker> {
        let file = GgufFile::parse(bytes, source_name)?;
        let card = ModelCard::from_gguf(&file)?;
        let tokenizer = Tokenizer::from_gguf(&file)?;
        let config = LlamaConfig::from_gguf(&file)?;
        check_vocab(&config, &tokenizer, source_name)?;
        let info = ModelInfo::of_gguf(&file, source_name, config.max_position_embeddings, card);
        let identifiers = rank::identifiers_for(info.card.as_ref(), &tokenizer)?;
        let prompt = info.prompt_config();
        let model = GpuModel::from_gguf(&ctx, &file, bytes, &identifiers.token_ids).await?;
        Ok(GpuRanker {
            ctx,
            model,
            tokenizer,
            config,
            identifiers,
            prompt,
            info,
        })
    }

    /// The adapter the weights live on.
    pub fn adapter(&self) -> &GpuInfo {
        self.ctx.info()
    }

    /// Ranks one request (see `alro_core::rank::driver::rank`).
    pub async fn rank(&self, req: &RankRequest, mode: RankMode) -> alro_core::Result<RankResponse> {
        rank::driver::rank(self, req, mode).await
    }
}

/// `GpuModel`'s forward passes, driven by the core's ranking procedure.
impl RankBackend for GpuRanker {
    type Sequence = GpuSequence;

    fn prepare(&self, req: &RankRequest) -> alro_core::Result<PreparedPrompt> {
        rank::prepare(
            &self.tokenizer,
            self.config.max_position_embeddings,
            &self.identifiers,
            &self.prompt,
            req,
        )
    }

    fn identifier_token_ids(&self) -> &[u32] {
        &self.identifiers.token_ids
    }

    async fn start(&self, prompt: &[u32]) -> alro_core::Result<(GpuSequence, Vec<f32>)> {
        let mut sequence = self.model.new_sequence();
        let logits = self
            .model
            .forward(&mut sequence, prompt)
            .await
            .map_err(backend)?;
        Ok((sequence, logits))
    }

    async fn next(&self, sequence: &mut GpuSequence, token: u32) -> alro_core::Result<Vec<f32>> {
        self.model
            .forward(sequence, &[token])
            .await
            .map_err(backend)
    }
}

fn backend(e: GpuError) -> alro_core::Error {
    alro_core::Error::Backend(e.to_string())
}
