// `import SwiftGAN` brings in everything a user of the library needs: tensors and autodiff, layers and optimizers,
// datasets and file formats.
@_exported import SwiftGANNN
@_exported import SwiftGANData
