// @pretext/ssl: data, self-supervised methods, training and evaluation.
// Sources and formats live in @pretext/data (no engine); the library hands them on.
export * from '@pretext/data';
export { loadFashionMnist, decodeImages, type LabeledImages } from './data/images.js';
export * from './data/loader.js';
export * from './data/sources.js';
export * from './augment/transforms.js';
export { buildEncoder, type Encoder, type EncoderSpec } from './encoders/encoder.js';
export { SmallCnn, type SmallCnnConfig } from './encoders/smallCnn.js';
export { ResNet18, type ResNetConfig } from './encoders/resnet.js';
export { mlpHead, type MlpHeadConfig } from './heads/mlp.js';
export * from './methods/index.js';
export {
  pretrain,
  trainStep,
  embeddingStd,
  TrainingDiverged,
  type StepContext,
  type StepOutcome,
  type TrainConfig,
  type TrainResult,
} from './train/trainer.js';
export { extractFeatures, encodeBatch, toFloatImages, normalizeInput, imageStats, type InputNorm } from './eval/features.js';
export { knnAccuracy } from './eval/knn.js';
export { linearProbe, fitLinearHead, type LinearHeadOptions, type LinearHeadFit, type LinearProbeOptions } from './eval/linear.js';
export { recipeSchema, validateRecipe, loadRecipe, RecipeError, METHOD_NAMES, type Recipe } from './recipe/schema.js';
export * from './pipeline.js';
export { buildAugment } from './recipe/augment.js';
export * from './transfer/labels.js';
export * from './transfer/finetune.js';
export * from './transfer/protocol.js';
export * from './transfer/semi.js';
export * from './transfer/diagnostics.js';
export * from './report/plot.js';
export * from './report/embeddingMap.js';
export * from './report/report.js';
export { modelCard, preparePublication, PUBLISHED_FILES, type Publication } from './publish/publication.js';
export { classifierCard, readClassifierMeta, CLASSIFIER_FILES } from './publish/classifier.js';
export { prepareTryIt, type Gallery } from './publish/tryIt.js';
export * from './transfer/finetuneRun.js';
export { exportEncoderOnnx, randomOnnxInputs, type OnnxExport, type OnnxExportOptions, type OnnxFamily } from './export/onnx.js';
export { exportOnnxFolder, readOnnxExport, PARITY_TOLERANCE, type OnnxFolderExport, type OnnxFolderOptions } from './export/folder.js';
export { checkOnnxParity, onnxSession, type OnnxParity } from './export/parity.js';
export { OnnxExportError, readOnnxSummary, OPSET } from './export/graph.js';
export { exportImageTextOnnx, exportImageTextTower, type ImageTextOnnxExport, type ImageTextTower } from './export/imageText.js';
export { prepareImageTextSearch, writeImageTextGallery } from './publish/imageText.js';
export { EXAMPLE_ENCODERS, buildExampleEncoder, exampleMeta, type ExampleEncoder } from './export/examples.js';
export * from './modalities/tabular/encoders.js';
export { corruptRows, tabularViews } from './modalities/tabular/views.js';
export {
  pretrainTabular,
  rowsTensor,
  tabularEncoderSpec,
  type TabularEncoderChoice,
  type TabularPretrainOptions,
} from './modalities/tabular/pretrain.js';
export * from './transfer/tabular.js';
export { pretrainFromRecipe } from './run.js';
export { runTablePretrain, evaluateTableEncoder, tableAsLabeledSets, tableDataFor } from './modalities/tabular/run.js';
export { runTextPretrain, scoreTextEncoder, evaluateTextEncoder, textDataFor, textAsLabeledSets } from './modalities/text/run.js';
export { pretrainText, vocabularySentences, textEncoderSpec, VOCAB_FILE, type TextEncoderChoice } from './modalities/text/pretrain.js';
export {
  loadTextEncoder,
  embedTexts,
  embedDocuments,
  embedDocumentsMatrix,
  similarDocuments,
  encodeWindows,
  type LoadedTextEncoder,
} from './modalities/text/embed.js';
export { tokenWindows, windowsTensor, poolWindows, type TokenWindows } from './modalities/text/tokens.js';
export {
  TextTransformer,
  isTextEncoder,
  type TextEncoder,
  type TextTransformerConfig,
  type TextVocabLayout,
} from './modalities/text/encoder.js';
export { maskTokens, textViews } from './modalities/text/views.js';
export { loadTextData, describeCorpus, type TextData, type TextDataSpec } from './modalities/text/source.js';
export { loadTableData, describeColumns, type TableData, type TableDataSpec } from './modalities/tabular/source.js';
export { fitLogistic, type LogisticOptions } from './eval/logistic.js';
export { embedTable, embedTableFile } from './modalities/tabular/embed.js';
export {
  fillMask,
  maskedTopK,
  maskedIds,
  loadMaskedLanguageModel,
  MLM_HEAD_FILE,
  type MaskPrediction,
} from './modalities/text/fillMask.js';
export { fitSparseLogistic, sparseLogisticProbabilities, type SparseLogistic, type SparseLogisticOptions } from './eval/sparseLogistic.js';
export {
  runTextTransfer,
  fitTfidfLogistic,
  TEXT_ARMS,
  TEXT_BUDGETS,
  TEXT_FINETUNE,
  TFIDF_C,
  type TextArm,
  type TextRun,
  type TextTransferOptions,
} from './transfer/text.js';
export { DocumentEncoder, documentTensor } from './modalities/text/document.js';
export { runTextFinetune, type TextFinetuneOptions, type TextClassifierMeta } from './modalities/text/finetune.js';
export {
  runSequencePretrain,
  scoreSequenceEncoder,
  evaluateSequenceEncoder,
  embedHistories,
  embedEventFile,
  eventDataFor,
  historiesAsLabeledSets,
} from './modalities/sequence/run.js';
export {
  pretrainSequence,
  historiesTensor,
  sequenceEncoderSpec,
  EVENTS_FILE,
  type SequenceEncoderChoice,
} from './modalities/sequence/pretrain.js';
export { EventGru, isSequenceEncoder, historyLengths, type EventGruConfig, type SequenceEncoder } from './modalities/sequence/encoder.js';
export { cropHistories, maskEvents, sequenceViews } from './modalities/sequence/views.js';
export { loadEventData, type EventData, type EventDataSpec } from './modalities/sequence/source.js';
export {
  runSequenceTransfer,
  SEQUENCE_ARMS,
  SEQUENCE_BUDGETS,
  SEQUENCE_FINETUNE,
  type SequenceArm,
  type SequenceRun,
  type SequenceTransferOptions,
} from './transfer/sequence.js';
export { measurementInputs, type MeasurementInputs } from './modalities/measure.js';

export { joinDataParallel, leaveDataParallel } from './train/dataParallel.js';
export { simulateFederation, type SimulateOptions, type FederatedRun } from './federated/simulate.js';
export { dpSgdEpsilon, type PrivacySpent } from './federated/privacy.js';
export {
  DpError,
  dpConfig,
  dpSettings,
  dpTrainStep,
  poissonSample,
  prepareForDp,
  type DpConfig,
  type DpSettings,
  type DpStepOutcome,
} from './train/dpsgd.js';
export { rawRowsScores } from './federated/data.js';
export type { FederatedProvenance } from './federated/provenance.js';
export {
  buildStrategy,
  sharedKeys,
  STRATEGY_NAMES,
  StrategyError,
  type Strategy,
  type StrategyName,
  type Share,
} from './federated/strategy.js';
export { FederatedSite, readWeights, writeWeights } from './federated/site.js';
export {
  hostFederation,
  joinFederation,
  saveHostedEncoder,
  spentPrivacy,
  watchFederation,
  type FederationRef,
  type HostedFederation,
  type JoinOptions,
  type JoinResult,
} from './federated/hosted.js';
export { clipLoss, siglipLoss, MAX_LOGIT_SCALE } from './losses/imageText.js';
export { ImageTextModel, type PairLoss, type ImageTextConfig } from './modalities/imageText/model.js';
export { zeroShot, retrieval, classEmbeddings, type ZeroShotResult, type RetrievalResult } from './modalities/imageText/evaluate.js';
export * from './modalities/imageText/run.js';
