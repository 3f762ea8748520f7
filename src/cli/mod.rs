pub mod decrypt;
